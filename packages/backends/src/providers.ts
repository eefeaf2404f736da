import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseAddress, PrefixSet } from '@haystack/common';
import { isSpecialPrefix } from './special.js';
import { DatasetError } from './datasets.js';

/** Display names of the bundled snapshot's folders; any other folder is named as it is. */
const NAMES: Record<string, string> = {
  amazon: 'Amazon Web Services',
  google: 'Google Cloud',
  microsoft: 'Microsoft Azure',
  oracle: 'Oracle Cloud',
  digitalocean: 'DigitalOcean',
  linode: 'Akamai Connected Cloud (Linode)',
  cloudflare: 'Cloudflare',
  vultr: 'Vultr',
};

export const providerName = (id: string): string => NAMES[id] ?? id;

/**
 * Cloud and hosting providers by their published address ranges: one folder per provider of
 * CIDR lists (one prefix a line). The most specific prefix wins where two providers' lists
 * overlap; an address in none is hosted elsewhere (the vendor's own network, a CDN, …).
 */
export class ProviderRanges {
  private readonly sets: { id: string; set: PrefixSet }[] = [];
  /** Prefixes dropped from the lists because they lie in special-purpose space (documentation, private, …). */
  readonly ignored: string[] = [];

  /** `dropSpecial`: leave out prefixes in special-purpose space (the bundled public lists; an operator's own list is taken as given). */
  constructor(folders: string[], dropSpecial = true) {
    for (const dir of folders) {
      const prefixes: string[] = [];
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.txt'))) {
        readFileSync(join(dir, f), 'utf8')
          .split('\n')
          .forEach((raw, i) => {
            const line = raw.trim();
            if (!line || line.startsWith('#')) return;
            if (!/^[0-9a-f:.]+\/\d{1,3}$/i.test(line)) throw new DatasetError(`${join(dir, f)}:${i + 1}: ${JSON.stringify(line)} is not a CIDR prefix`);
            if (dropSpecial && isSpecialPrefix(line)) this.ignored.push(`${basename(dir)} ${line}`);
            else prefixes.push(line);
          });
      }
      try {
        this.sets.push({ id: basename(dir), set: new PrefixSet(prefixes) });
      } catch (e) {
        throw new DatasetError(`${dir}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  get providers(): string[] {
    return this.sets.map((s) => s.id);
  }

  /** The provider whose list holds the address (its longest prefix wins), or null. */
  lookup(address: string): string | null {
    const b = parseAddress(address);
    let best: string | null = null;
    let bestBits = -1;
    for (const s of this.sets) {
      const i = s.set.match(b);
      if (i < 0) continue;
      const bits = s.set.prefixes[i]!.bits;
      if (bits > bestBits) {
        best = s.id;
        bestBits = bits;
      }
    }
    return best;
  }
}
