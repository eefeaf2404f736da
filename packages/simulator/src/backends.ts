import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { v4Prefix, v4ToText } from './addr.js';
import type { PlanBlock } from './dns.js';
import type { World } from './world.js';

/**
 * Where the simulated IoT backends live, written two ways: as dataset copies in the formats
 * packages/backends reads (IP→ASN and IP→country range CSVs, provider CIDR lists, dated), so a
 * demo or test points `backends.*` at them; and as truth: the bytes each IoT domain's addresses
 * were expected to receive per day before sampling, to check the report's shares against.
 */

const v6Range = (cidr: string): [string, string] => {
  const head = cidr.replace(/::\/32$/, '');
  return [`${head}::`, `${head}:ffff:ffff:ffff:ffff:ffff:ffff`];
};
const hex = (a: string) =>
  a
    .replace(/::$/, '')
    .split(':')
    .map((g) => g.padStart(4, '0'))
    .join('');

export async function writeBackendDatasets(dir: string, plan: PlanBlock[], date: string): Promise<string[]> {
  const v4Rows: { start: number; row: (v: string) => string }[] = [];
  const v6Rows: { key: string; row: (v: string) => string }[] = [];
  const seen6 = new Set<string>();
  const providers = new Map<string, { v4: string[]; v6: string[] }>();
  for (const b of plan) {
    const org = `"${b.org.replace(/"/g, '""')}"`;
    const vals = { asn: `${b.asn},${org}`, country: b.country };
    for (const c of b.v4) {
      const p = v4Prefix(c);
      const [s, e] = [v4ToText(p.base), v4ToText(p.base + p.size - 1)];
      v4Rows.push({ start: p.base, row: (k) => `${s},${e},${vals[k as 'asn' | 'country']}` });
    }
    const own6 = b.v6.filter((c) => !seen6.has(c));
    for (const c of own6) {
      seen6.add(c);
      const [s, e] = v6Range(c);
      v6Rows.push({ key: hex(s), row: (k) => `${s},${e},${vals[k as 'asn' | 'country']}` });
    }
    if (b.provider) {
      let p = providers.get(b.provider);
      if (!p) providers.set(b.provider, (p = { v4: [], v6: [] }));
      p.v4.push(...b.v4);
      p.v6.push(...own6);
    }
  }
  v4Rows.sort((a, b) => a.start - b.start);
  v6Rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const files: string[] = [];
  const put = async (rel: string, text: string) => {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), text);
    files.push(rel);
  };
  for (const k of ['asn', 'country'] as const) {
    await put(`${k}/${k}-ipv4.csv`, v4Rows.map((r) => r.row(k)).join('\n') + '\n');
    await put(`${k}/${k}-ipv6.csv`, v6Rows.map((r) => r.row(k)).join('\n') + '\n');
    await put(`${k}/SNAPSHOT`, `${date}\n`);
  }
  for (const [id, p] of [...providers].sort()) {
    await put(`providers/${id}/ipv4.txt`, p.v4.join('\n') + '\n');
    await put(`providers/${id}/ipv6.txt`, p.v6.join('\n') + '\n');
  }
  await put('providers/SNAPSHOT', `${date}\n`);
  return files;
}

/** `day,domain,address,expected_bytes`: per simulated day, IoT domain and backend address, the bytes expected before sampling. */
export function backendsTruthCsv(w: World, expectedBytes: Float64Array): string {
  const st = w.pop.streams;
  const days = w.worldDays;
  const acc = new Map<string, number>();
  for (let s = 0; s < st.count; s++) {
    const dom = w.dns.domains[st.domain[s]!]!;
    for (let d = 0; d < days; d++) {
      const bytes = expectedBytes[s * days + d]!;
      if (bytes <= 0) continue;
      const list = st.v6[s] === 1 ? dom.v6[d]! : dom.v4[d]!;
      if (list.length === 0) continue;
      // A stream spreads its connections evenly over the day's addresses (emitStream picks by hash).
      const day = new Date(w.day0Ms + d * 86_400_000).toISOString().slice(0, 10);
      for (const a of list) {
        const text = st.v6[s] === 1 ? w.dns.v6.text(a) : v4ToText(a);
        const k = `${day},${dom.key},${text}`;
        acc.set(k, (acc.get(k) ?? 0) + bytes / list.length);
      }
    }
  }
  const rows = [...acc].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, b]) => `${k},${Math.round(b)}`);
  return ['day,domain,address,expected_bytes', ...rows].join('\n') + '\n';
}
