import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { addDays, buildHitlist, CertFileInput, PdnsFileInput, Window } from '@haystack/hitlist';
import { isException, loadRules, patternMatches } from '@haystack/rules';
import { simulate } from './index.js';
import { readJson, rulesDir, tempDir } from './test-support.js';

/**
 * The passive DNS and certificate scans the simulator writes load in the real hitlist build,
 * and the build reaches what the world intended for every dictionary domain: cloud-VM and
 * vendor-hosted domains dedicated, CDN-hosted ones shared, certificate-only ones recovered
 * from certificates, hidden ones unresolved, generic ones generic — on each simulated day,
 * with churned addresses kept for the whole look-back window.
 */
interface WorldDomain {
  domain: string;
  instances: string[];
  hosting: string;
  intended: 'dedicated' | 'shared' | 'certificate' | 'unresolved' | 'generic';
  churn: boolean;
  ports: string[];
  addressesByDay: { day: string; v4: string[]; v6: string[] }[];
}

const WANT: Record<WorldDomain['intended'], [string, string | null]> = {
  dedicated: ['dedicated', 'passive-dns'],
  shared: ['shared', 'passive-dns'],
  certificate: ['dedicated', 'certificate'],
  unresolved: ['unresolved', null],
  generic: ['generic', null],
};

test('generated passive DNS and certificates build the hitlist the world intended, every simulated day', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(rulesDir);
    const startDay = '2026-03-02';
    await simulate(
      { lines: 200, days: 2, startDay, sampling: [1000], background: 0.2, churnShare: 0.6, seed: 11, rulesDir },
      { dir: join(t.dir, 'out') },
      dict,
    );
    const world = readJson<{ domains: WorldDomain[]; window: { lookbackDays: number } }>(join(t.dir, 'out', 'world.json'));
    const hostings = new Set(world.domains.map((d) => d.hosting));
    assert.deepEqual([...hostings].sort(), ['cdn', 'cert', 'generic', 'hidden', 'own', 'vm'], 'every hosting kind is represented');

    // Both ways of choosing addresses (rules/policy.yaml hitlistAddresses): the day's own, or the whole window's.
    for (const [day, addressesOf] of [
      [startDay, dict.policy.hitlistAddresses],
      [addDays(startDay, 1), 'day'],
      [addDays(startDay, 1), 'window'],
    ] as const) {
      const r = await buildHitlist({
        day,
        rules: dict,
        pdns: [new PdnsFileInput(join(t.dir, 'out', 'pdns.jsonl'))],
        certs: [new CertFileInput(join(t.dir, 'out', 'certs.jsonl'))],
        policy: { hitlistAddresses: addressesOf },
        tmpDir: t.dir,
        now: new Date(0),
      });
      const rep = r.report.inputs;
      assert.deepEqual(rep.pdns[0]!.skipped, {}, 'passive DNS lines skipped');
      assert.deepEqual(rep.certs[0]!.skipped, {}, 'certificate lines skipped');
      assert.ok(rep.pdns[0]!.records > 1000);

      const decisions = new Map(r.classification.domains.map((d) => [d.domain, d]));
      const window = new Window(day, dict.policy.lookbackDays);
      const windowDays = new Set(window.daysOf(window.full));
      const entries = new Map<string, Set<string>>();
      // Evidence classes listed at each (address, transport/port): an entry keeps one of two
      // domains that are evidence of the same classes there (one flow is one piece of evidence).
      const classesAt = new Map<string, Set<number>>();
      for (const e of r.hitlist.entries) {
        classesAt.set(`${e.address} ${e.transport}/${e.port}`, new Set(e.domains.flatMap((di) => r.hitlist.domains[di]!.classes)));
        for (const di of e.domains) {
          const name = r.hitlist.domains[di]!.name;
          const s = entries.get(name) ?? new Set();
          s.add(`${e.address} ${e.transport}/${e.port}`);
          entries.set(name, s);
        }
      }
      const classesOf = new Map(r.hitlist.domains.map((x) => [x.name, x.classes]));
      // A family resolves every name its patterns match, other entries' names too (each name is
      // hosted by one entry), and keeps the addresses of its dedicated names: those of the entries
      // it covers that host them on dedicated addresses (VM, own block), or, found by certificate,
      // those of certificate-only ones. Its exceptions are never its names (`www.` under a zone
      // is the maker's website by policy).
      const defOf = new Map(dict.domains.map((x) => [x.key, x]));
      const covers = (key: string, n: string) => defOf.get(key)!.patterns.some((p) => patternMatches(p, n)) && !isException(defOf.get(key)!, n);
      const hostingOf = (d: WorldDomain) => (d.intended === 'certificate' ? ['cert'] : ['vm', 'own']);
      const covered = (d: WorldDomain) => world.domains.filter((y) => hostingOf(d).includes(y.hosting) && y.instances.some((n) => covers(d.domain, n)));
      let overlapping = 0;
      for (const d of world.domains) {
        const got = decisions.get(d.domain);
        assert.ok(got, `no decision for ${d.domain}`);
        assert.deepEqual([got.status, got.via], WANT[d.intended], `${day} ${d.domain} (${d.hosting}): ${got.reason}`);
        // Evidence domains: the hitlist holds exactly the addresses the domain had that day
        // (or in the window, as the policy says; certificate addresses always the window's), on its ports.
        const inHitlist = entries.get(d.domain);
        if (!inHitlist) continue;
        const wholeWindow = addressesOf === 'window' || d.intended === 'certificate';
        const members = defOf.get(d.domain)!.family ? covered(d) : [d];
        const addrs = new Set(
          members.flatMap((m) => m.addressesByDay.filter((x) => (wholeWindow ? windowDays.has(x.day) : x.day === day)).flatMap((x) => [...x.v4, ...x.v6])),
        );
        const want = new Set<string>();
        for (const a of addrs) for (const p of dictPorts(dict, d.domain)) want.add(`${a} ${p}`);
        const partial = members.some((m) => m !== d && !m.instances.every((n) => covers(d.domain, n)));
        if (members.length > 1) overlapping++;
        const extra = [...inHitlist].filter((x) => !want.has(x));
        assert.deepEqual(extra, [], `${day} hitlist entries of ${d.domain} outside the entries it covers`);
        // Exact when every covered entry's names are all the family's; a partly covered entry's
        // other names' addresses are not the family's. Where the domain is not listed, another
        // domain evidencing the same classes must be.
        if (!partial)
          for (const x of want) {
            if (inHitlist.has(x)) continue;
            const at = classesAt.get(x);
            assert.ok(at && classesOf.get(d.domain)!.every((c) => at.has(c)), `${day} ${x} of ${d.domain} is missing from the hitlist`);
          }
      }
      assert.ok(overlapping > 0, 'the world has families covering other entries');
      assert.ok(r.hitlist.entries.length > 100);
      assert.ok(r.classification.rules.some((x) => x.level === 'product') && r.classification.rules.some((x) => x.level === 'platform'));
    }

    // Churn: some dedicated domain served from different addresses on different days (the
    // 'day' and 'window' hitlists above then differ for it).
    const churned = world.domains.filter(
      (d) => d.churn && d.intended === 'dedicated' && new Set(d.addressesByDay.flatMap((x) => x.v4)).size > new Set(d.addressesByDay.at(-1)!.v4).size,
    );
    assert.ok(churned.length > 0, 'no churned domain');
  } finally {
    t.cleanup();
  }
});

/** The dictionary's ports of a domain as hitlist entries write them ("any" is both transports). */
function dictPorts(dict: ReturnType<typeof loadRules>, key: string): string[] {
  const def = dict.domains.find((d) => d.key === key)!;
  return def.ports.flatMap((p) => (p.transport === 'any' ? [`tcp/${p.port}`, `udp/${p.port}`] : [`${p.transport}/${p.port}`]));
}
