import { existsSync } from 'node:fs';
import { loadRules } from '@haystack/rules';
import { type HitlistMeta } from '@haystack/hitlist-contract';

import type { ClassKind as Level } from '@haystack/hitlist-contract';

export interface ClassInfo {
  id: string;
  level: Level;
  name: string;
  /** Coarser classes this one implies: a product's manufacturer and platforms. */
  parents: string[];
}

/**
 * Which classes a detection implies (docs/method.md, step 5: a product detection names its
 * manufacturer and its platforms). The hitlist carries only the detectable classes without
 * their parents, so the hierarchy comes from the IoT dictionary (rules/), or from a hitlist
 * whose classes carry `parents` (a proposed extension of the hitlist format: used when present).
 */
export class ClassHierarchy {
  private readonly classes = new Map<string, ClassInfo>();

  /** From the dictionary directory; null when it does not exist. Throws RulesError on invalid rules. */
  static fromRules(dir: string): ClassHierarchy | null {
    if (!existsSync(dir)) return null;
    const dict = loadRules(dir);
    const h = new ClassHierarchy();
    for (const c of dict.classes.values()) {
      const parents = c.kind === 'product' ? [...(c.manufacturer ? [c.manufacturer] : []), ...c.platforms] : [];
      h.classes.set(c.id, { id: c.id, level: c.kind, name: c.name, parents });
    }
    return h;
  }

  static of(infos: ClassInfo[]): ClassHierarchy {
    const h = new ClassHierarchy();
    for (const i of infos) h.classes.set(i.id, { ...i, parents: [...i.parents] });
    return h;
  }

  get size(): number {
    return this.classes.size;
  }

  /**
   * Add what a hitlist knows: its classes' names and levels, and their parents when the
   * hitlist carries them. Returns true when the hitlist had parent information.
   */
  mergeHitlist(meta: HitlistMeta): boolean {
    let withParents = false;
    for (const c of meta.classes) {
      const parents = (c as { parents?: unknown }).parents;
      const known = this.classes.get(c.id);
      const p = Array.isArray(parents) && parents.every((x) => typeof x === 'string') ? (parents as string[]) : null;
      if (p) withParents = true;
      this.classes.set(c.id, { id: c.id, level: c.level, name: c.name, parents: p ?? known?.parents ?? [] });
    }
    return withParents;
  }

  info(id: string): ClassInfo | undefined {
    return this.classes.get(id);
  }

  parents(id: string): readonly string[] {
    return this.classes.get(id)?.parents ?? [];
  }

  all(): ClassInfo[] {
    return [...this.classes.values()];
  }
}
