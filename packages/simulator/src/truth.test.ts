import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrefixSet } from '@haystack/common';
import { loadRules } from '@haystack/rules';
import { buildWorld, decodeCapture, lineOf, lineText4, lineText6, simulate, truthCsv, v4ToText, type SimOptions } from './index.js';
import { readCsv, rulesDir, tempDir } from './test-support.js';

/**
 * Ground truth matches what was emitted. Without sampling (1:1) every device shows in the
 * exports toward its domains, on their ports, from its line (IPv4 address or IPv6 /56), and
 * never before its first active time; and every flow toward an address that only an IoT
 * domain uses comes from a line hosting a device that uses the domain, or is a recorded
 * stray contact (a companion app on a line without the device).
 */
const O: Partial<SimOptions> = {
  lines: 120,
  hours: 6,
  sampling: [1],
  exporters: 2,
  protocol: 'mixed',
  ipv6Share: 0.5,
  background: 0.2,
  newDeviceShare: 0.3,
  strayRate: 0.5,
  seed: 5,
  rulesDir,
};

test('truth.csv agrees with the flows in the exports (sampling 1:1)', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(rulesDir);
    const sum = await simulate(O, { dir: t.dir }, dict);
    // The same options rebuild the same world in memory: its truth is the file's.
    const w = buildWorld(O, dict);
    assert.equal(readFileSync(join(t.dir, 'truth.csv'), 'utf8'), truthCsv(w.truth));
    assert.equal(sum.devices, w.pop.devices.count);

    const subs = new PrefixSet([w.o.v4Prefix, w.o.v6Prefix]);
    // The simulated day and the one before it (a long-lived connection opened before midnight
    // keeps yesterday's server address).
    const days = [w.lookbackDays - 1, w.lookbackDays];
    const text6 = (i: number) => w.dns.v6.text(i);
    const domainsAt = new Map<string, Set<number>>();
    const genericAt = new Set<string>();
    for (const day of days) {
      for (const sv of w.dns.services) for (const a of [...sv.v4[day]!.map(v4ToText), ...sv.v6[day]!.map(text6)]) genericAt.add(a);
      for (const d of w.dns.domains)
        for (const a of [...d.v4[day]!.map(v4ToText), ...d.v6[day]!.map(text6)]) {
          const set = domainsAt.get(a) ?? new Set<number>();
          set.add(d.index);
          domainsAt.set(a, set);
        }
    }
    /** The one IoT domain an address serves, when nothing else uses it; else -1. */
    const exclusiveDomain = (a: string) => {
      const ds = domainsAt.get(a);
      return ds && ds.size === 1 && !genericAt.has(a) ? [...ds][0]! : -1;
    };
    // Flows between a line and an IoT domain address: "line address port proto" → earliest start.
    const seen = new Map<string, number>();
    await decodeCapture(join(t.dir, 'exports.pcap'), (f) => {
      const l = lineOf(f, subs, w.o.v6LineBits);
      if (!l || !domainsAt.has(l.service)) return false;
      const k = `${l.line} ${l.service} ${l.servicePort} ${f.proto}`;
      seen.set(k, Math.min(seen.get(k) ?? Infinity, f.startMs));
      return false;
    });
    assert.ok(seen.size > 100);
    const byLine = new Map<string, { addr: string; port: number; proto: number; start: number }[]>();
    for (const [k, start] of seen) {
      const [line, addr, port, proto] = k.split(' ');
      const l = byLine.get(line!) ?? [];
      l.push({ addr: addr!, port: Number(port), proto: Number(proto), start });
      byLine.set(line!, l);
    }

    // Every device with two hours or more of runtime shows toward its first (always idle)
    // domain, from its line identity, on that stream's port: at 1:1 at least 10 packets an
    // hour are expected there, so a miss is a bug, not chance (e^-20).
    const { lines, devices, streams } = w.pop;
    const lineId = (dev: number, v6: boolean) => (v6 ? lineText6(lines, devices.line[dev]!, w.o.v6LineBits) : lineText4(lines, devices.line[dev]!));
    const firstStream = new Int32Array(devices.count).fill(-1);
    for (let s = 0; s < streams.count; s++) if (firstStream[streams.device[s]!] === -1) firstStream[streams.device[s]!] = s;
    let checked = 0;
    for (let d = 0; d < devices.count; d++) {
      if (devices.installMs[d]! > w.endMs - 2 * 3_600_000) continue;
      const s = firstStream[d]!;
      const id = lineId(d, streams.v6[s] === 1);
      const dom = streams.domain[s]!;
      const hit = (byLine.get(id) ?? []).some((x) => x.port === streams.port[s] && x.proto === streams.proto[s] && domainsAt.get(x.addr)!.has(dom));
      assert.ok(hit, `device ${d} (${w.kinds[devices.kind[d]!]!.id}) on ${id}: no flow toward ${w.dns.domains[dom]!.key}:${streams.port[s]}`);
      checked++;
    }
    assert.ok(checked > 50, `only ${checked} devices checked`);

    // Per line identity and domain: the earliest install among the devices using it there.
    const domainsOn = new Map<string, Map<number, number>>();
    for (let s = 0; s < streams.count; s++) {
      const d = streams.device[s]!;
      const id = lineId(d, streams.v6[s] === 1);
      const m = domainsOn.get(id) ?? new Map<number, number>();
      m.set(streams.domain[s]!, Math.min(m.get(streams.domain[s]!) ?? Infinity, Math.max(w.t0Ms, devices.installMs[d]!)));
      domainsOn.set(id, m);
    }
    const strays = new Set(readCsv(join(t.dir, 'strays.csv')).map((x) => `${x.line} ${w.dns.domains.findIndex((d) => d.key === x.domain)}`));
    assert.ok(strays.size > 5, 'stray contacts were generated');

    // Every truth row names a line identity with devices of the class, first active when the first of them was installed.
    const rows = readCsv(join(t.dir, 'truth.csv'));
    assert.equal(rows.length, w.truth.length);
    // A device counts on a line identity when it has traffic of that family there (a device on a
    // dual-stack line whose domains have no IPv6 address is on the IPv4 identity only).
    const families = new Uint8Array(devices.count);
    for (let s = 0; s < streams.count; s++) families[streams.device[s]!]! |= streams.v6[s] === 1 ? 2 : 1;
    for (const r of rows) {
      const first = Math.min(
        ...[...Array(devices.count).keys()]
          .filter(
            (d) =>
              w.kinds[devices.kind[d]!]!.truth.some((c) => c.class === r.class) &&
              ((lineId(d, false) === r.line && (families[d]! & 1) !== 0) || (lineId(d, true) === r.line && (families[d]! & 2) !== 0)),
          )
          .map((d) => Math.max(w.t0Ms, devices.installMs[d]!)),
      );
      assert.equal(r.first_active, new Date(first).toISOString(), `${r.line} ${r.class}`);
      assert.ok(domainsOn.has(r.line!), `truth line ${r.line} has no device streams`);
    }

    // Flows toward addresses only one IoT domain uses: from a line with a device using that
    // domain (never before the first such device was installed), on one of its ports, or a
    // recorded stray contact.
    let exclusive = 0;
    let dated = 0;
    for (const [line, fs] of byLine) {
      for (const f of fs) {
        const dom = exclusiveDomain(f.addr);
        if (dom < 0) continue;
        exclusive++;
        const def = w.dns.domains[dom]!;
        assert.ok(
          def.ports.some((p) => p.port === f.port && p.proto === f.proto),
          `${f.proto}/${f.port} is not one of ${def.key}'s ports`,
        );
        if (strays.has(`${line} ${dom}`)) continue;
        const since = domainsOn.get(line)?.get(dom);
        assert.ok(since !== undefined, `${line} talks to ${def.key} without a device using it`);
        if (since > w.t0Ms) dated++;
        assert.ok(f.start >= since, `${line} reached ${def.key} at ${new Date(f.start).toISOString()}, before its device was installed`);
      }
    }
    assert.ok(exclusive > 100, `only ${exclusive} flows toward IoT-only addresses`);
    assert.ok(dated > 5, `only ${dated} of them from devices installed during the run`);
  } finally {
    t.cleanup();
  }
});
