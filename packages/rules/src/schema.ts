import { z } from 'zod';

/**
 * Schema of the IoT dictionary files under rules/ (documented in rules/README.md). Every
 * file may hold any of the top-level sections; the loader merges all files and checks the
 * references between them.
 */
const id = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'ids are lower-case letters, digits and "-"');
const sourceRefs = z.array(z.string().min(1)).min(1, 'cite at least one source');

export const sourceSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]*$/, 'source ids are letters, digits and _ . / -'),
    title: z.string().min(1),
    url: z.string().url().optional(),
    commit: z.string().optional(),
    licence: z.string().optional(),
    /** Path of the local copy, relative to the repository root. */
    file: z.string().optional(),
    note: z.string().optional(),
  })
  .strict();

const classBase = {
  id,
  name: z.string().min(1),
  /** iot_wild `detection_level` / `device` labels mapped to this class. */
  labels: z.array(z.string().min(1)).optional(),
  source: sourceRefs,
  note: z.string().optional(),
};

export const platformSchema = z.object({ ...classBase, operator: z.string().min(1) }).strict();
export const manufacturerSchema = z.object(classBase).strict();
export const productSchema = z
  .object({
    ...classBase,
    /** Omitted for white-label products known only through their platform. */
    manufacturer: id.optional(),
    platforms: z.array(id).optional(),
  })
  .strict();

export const PORT_RE = /^(tcp|udp|any)\/(\d{1,5})$/;
const portSpec = z
  .string()
  .regex(PORT_RE, 'ports are written "tcp/443", "udp/123" or "any/32100"')
  .refine((s) => !PORT_RE.test(s) || Number(s.split('/')[1]) <= 65535, 'port above 65535');

export const domainSchema = z
  .object({
    /** Canonical name: exact, `*.suffix` wildcard, or numbered family with `{n}`. Identifies the domain. */
    domain: z.string().min(1),
    /** Further names or patterns counted as the same domain (one service). */
    also: z.array(z.string().min(1)).optional(),
    /**
     * Regional twins: the regions the vendor serves, substituted for `{region}` in `domain` and
     * `also` (one name or pattern per region). Required when a name has the placeholder.
     */
    regions: z.array(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'regions are lower-case letters, digits and "-"')).min(1).optional(),
    /**
     * Names (or patterns) that match the entry but serve the maker's website, apps or general
     * content: never instances of the entry, and an address that also serves one of them is not
     * kept for the entry.
     */
    except: z.array(z.string().min(1)).min(1).optional(),
    /**
     * primary: the maker's own device backend; support: a service its devices need that does not
     * identify them; app: a host only the maker's phone app or web app calls (never device traffic).
     */
    role: z.enum(['primary', 'support', 'app']),
    ports: z.array(portSpec).min(1),
    /** Classes that contact it. A manufacturer or platform here means "any of its products may". */
    used_by: z.array(id).min(1),
    source: sourceRefs,
    /** Where the role decision comes from, when not from `source`. */
    role_source: sourceRefs.optional(),
    /**
     * Sources showing that this domain is used by the product in `used_by` alone among its
     * manufacturer's products. Needed for product-level evidence when the dictionary lists no
     * other product of that manufacturer (with siblings listed, the lab data of the same source shows it).
     */
    product_evidence: sourceRefs.optional(),
    note: z.string().optional(),
  })
  .strict();

export const genericSchema = z
  .object({
    /** This name and every name below it. */
    suffix: z.string().min(1).optional(),
    /** This name only. */
    name: z.string().min(1).optional(),
    source: sourceRefs,
    why: z.string().min(1),
  })
  .strict()
  .refine((g) => (g.suffix === undefined) !== (g.name === undefined), 'give exactly one of "suffix" or "name"');

export const policySchema = z
  .object({
    /** Days in the look-back window ending on the build day (1..31). */
    lookbackDays: z.number().int().min(1).max(31).default(7),
    /** A product keeps fewer usable (dedicated) primary domains than this: not detectable. */
    minPrimaryDomains: z.number().int().min(1).default(1),
    /** A product whose share of dedicated among its resolved primary domains is below this rests on shared infrastructure. */
    minDedicatedShare: z.number().min(0).max(1).default(0.5),
    /** Evidence domains a line must contact for a detection; a class with fewer evidence domains is not detectable. */
    threshold: z.number().int().min(1).default(1),
    maxCnameDepth: z.number().int().min(1).max(32).default(8),
    /** How many CNAME hops back from an address's names are followed to find who else maps to it. */
    maxReverseDepth: z.number().int().min(0).max(8).default(2),
    /**
     * Which passive-DNS addresses of a dedicated domain enter day D's hitlist: "day", only
     * those it resolved to on D (the paper's daily mapping: a cloud address the domain left
     * earlier in the window may serve another tenant now); "window", every address of the
     * look-back window. Certificate-derived addresses always span the window (scans are rarer).
     */
    hitlistAddresses: z.enum(['day', 'window']).default('day'),
    /**
     * First labels that, right under a family's zone (`*.suffix`), name the maker's website or
     * general content rather than a device backend: `www.suffix`, `shop.suffix`, ... are
     * exceptions of every zone, as if listed in its `except:`.
     */
    websiteLabels: z
      .array(z.string().regex(/^[a-z0-9-]+$/))
      .default(['www', 'shop', 'store', 'support', 'help', 'community', 'forum', 'forums', 'blog', 'docs', 'developer', 'developers', 'careers', 'investors', 'news', 'press']),
    /**
     * Ports every family is matched on besides its own: the protocols devices use toward their
     * maker's cloud (HTTP, HTTPS, MQTT, MQTT over TLS). An address a family keeps is dedicated to
     * the maker's device backend, so these are its devices' traffic whichever of them a model uses.
     */
    familyPorts: z.array(portSpec).default(['tcp/80', 'tcp/443', 'tcp/1883', 'tcp/8883']),
    /** Domain roles that count as evidence. */
    evidenceRoles: z.array(z.enum(['primary', 'support', 'app'])).min(1).default(['primary']),
    /** An input file with a larger share of invalid lines is not what it claims to be: the build fails. */
    maxInvalidShare: z.number().min(0).max(1).default(0.5),
    /**
     * A build whose hitlist has fewer entries than (1 - maxShrink) x those of the latest day
     * already built (that day itself when rebuilding) is refused unless forced: the last good
     * hitlist keeps serving.
     */
    maxShrink: z.number().min(0).max(1).default(0.5),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;

export const rulesFileSchema = z
  .object({
    version: z.literal(1).optional(),
    /** The day the dictionary was last reviewed (YYYY-MM-DD); given once, in any file. */
    updated: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'updated is a day, YYYY-MM-DD').optional(),
    sources: z.array(sourceSchema).optional(),
    platforms: z.array(platformSchema).optional(),
    manufacturers: z.array(manufacturerSchema).optional(),
    products: z.array(productSchema).optional(),
    domains: z.array(domainSchema).optional(),
    generic: z.array(genericSchema).optional(),
    policy: policySchema.optional(),
  })
  .strict();

export type RulesFile = z.infer<typeof rulesFileSchema>;
