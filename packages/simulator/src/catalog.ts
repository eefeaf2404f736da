import type { ClassKind } from '@haystack/hitlist-contract';
import type { Dictionary, DomainDef } from '@haystack/rules';

/**
 * What can sit behind a line, taken from the IoT dictionary (rules/): every product (which
 * implies its manufacturer and platforms), plus white-label devices known only by their
 * platform (their maker outsourced the backend: Tuya, Alexa built in, Electric Imp, Mi IoT).
 */
export type Category = 'media' | 'camera' | 'appliance';

export interface TruthClass {
  class: string;
  level: ClassKind;
}

export interface DeviceKind {
  /** The class a unit is sold as: a product id, or a platform id for white-label devices. */
  id: string;
  kind: 'product' | 'platform';
  name: string;
  /** Every class a unit of this kind is a member of: itself, its manufacturer, its platforms. */
  truth: TruthClass[];
  /** Dictionary domain indices it always contacts (its `used_by` names it). */
  direct: number[];
  /** Domains its manufacturer or platforms may use ("any product of it"): each unit uses some. */
  indirect: number[];
  category: Category;
  /** Share of lines with at least one unit (before --penetration-scale). */
  penetration: number;
}

/**
 * Default penetration (share of lines): rough orders of magnitude for a European broadband
 * ISP — voice assistants and smart TVs common, niche appliances rare. Anything not listed
 * gets DEFAULT_PENETRATION. Override per class with SimOptions.penetration.
 */
export const PENETRATION: Record<string, number> = {
  'amazon-echo-dot': 0.08,
  'amazon-echo-plus': 0.02,
  'amazon-echo-spot': 0.015,
  'amazon-fire-tv': 0.05,
  'harman-kardon-allure': 0.003,
  'samsung-smart-tv': 0.07,
  'samsung-fridge': 0.006,
  'samsung-dryer': 0.004,
  'nest-thermostat': 0.02,
  'philips-hue-bridge': 0.04,
  'roku-tv': 0.02,
  'ring-doorbell': 0.02,
  'blink-hub': 0.01,
  'tplink-plug': 0.02,
  'tplink-bulb': 0.01,
  'tplink-plug-energy': 0.008,
  'smartthings-hub': 0.01,
  'xiaomi-hub': 0.008,
  'xiaomi-plug': 0.01,
  'netatmo-weather-station': 0.008,
  'yi-camera': 0.008,
  'smartlife-bulb': 0.015,
  // White-label devices on a platform only.
  tuya: 0.04,
  alexa: 0.01,
  'xiaomi-miot': 0.01,
  'electric-imp': 0.002,
};
export const DEFAULT_PENETRATION = 0.004;

function categoryOf(id: string, name: string): Category {
  const s = `${id} ${name}`.toLowerCase();
  if (/\btv\b|-tv|echo|allure|roku|speaker|fire/.test(s)) return 'media';
  if (/cam|doorbell|ring|blink|spycam/.test(s)) return 'camera';
  return 'appliance';
}

export function buildCatalog(dict: Dictionary): DeviceKind[] {
  const byUser = new Map<string, number[]>();
  dict.domains.forEach((d: DomainDef, i) => {
    // Hosts only the maker's phone app calls are never device traffic.
    if (d.role === 'app') return;
    for (const u of d.usedBy) {
      const l = byUser.get(u) ?? [];
      l.push(i);
      byUser.set(u, l);
    }
  });
  const kinds: DeviceKind[] = [];
  for (const c of dict.classes.values()) {
    if (c.kind === 'product') {
      const direct = byUser.get(c.id) ?? [];
      const parents = [...(c.manufacturer ? [c.manufacturer] : []), ...c.platforms];
      const indirect = [...new Set(parents.flatMap((p) => byUser.get(p) ?? []))].filter((i) => !direct.includes(i)).sort((a, b) => a - b);
      if (direct.length + indirect.length === 0) continue;
      const truth: TruthClass[] = [{ class: c.id, level: 'product' }];
      if (c.manufacturer) truth.push({ class: c.manufacturer, level: 'manufacturer' });
      for (const p of c.platforms) truth.push({ class: p, level: 'platform' });
      kinds.push({
        id: c.id,
        kind: 'product',
        name: c.name,
        truth,
        direct,
        indirect,
        category: categoryOf(c.id, c.name),
        penetration: PENETRATION[c.id] ?? DEFAULT_PENETRATION,
      });
    } else if (c.kind === 'platform') {
      // A white-label device reaches the platform's own domains only.
      const direct = byUser.get(c.id) ?? [];
      if (direct.length === 0) continue;
      kinds.push({
        id: c.id,
        kind: 'platform',
        name: `${c.name} device (white label)`,
        truth: [{ class: c.id, level: 'platform' }],
        direct,
        indirect: [],
        category: categoryOf(c.id, c.name),
        penetration: PENETRATION[c.id] ?? DEFAULT_PENETRATION,
      });
    }
  }
  return kinds;
}
