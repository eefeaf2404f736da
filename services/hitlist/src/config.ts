import { z } from 'zod';

/**
 * Proposed `hitlist` section of the common configuration (packages/common/src/config.ts is
 * owned elsewhere; until it moves there the CLI takes these as flags). Unset policy values
 * fall back to the dictionary's rules/policy.yaml.
 */
export const hitlistConfigSchema = z
  .object({
    /** Directory of the IoT dictionary (rules/*.yaml). */
    rulesDir: z.string().default('./rules'),
    /** Where day directories go; default <stateDir>/hitlist. */
    dir: z.string().optional(),
    /** Parent of the temporary spill files; default the OS temp dir. */
    tmpDir: z.string().optional(),
    lookbackDays: z.number().int().min(1).max(31).optional(),
    minPrimaryDomains: z.number().int().min(1).optional(),
    minDedicatedShare: z.number().min(0).max(1).optional(),
    threshold: z.number().int().min(1).optional(),
    /** Publish to the store (Redis when redis.url is set) and switch the active day. */
    publish: z.boolean().default(true),
    /** Record the build in ClickHouse history. */
    history: z.boolean().default(true),
  })
  .strict();

export type HitlistConfig = z.infer<typeof hitlistConfigSchema>;
