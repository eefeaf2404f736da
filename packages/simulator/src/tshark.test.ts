import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { tsharkDecode, type TsharkFlowRecord } from '@haystack/testkit/tshark';
import { readFileSync } from 'node:fs';
import { decodeCapture, simulate, v6Line, type SimOptions } from './index.js';
import { readJson, rulesDir, tempDir } from './test-support.js';

/**
 * The exports are real NetFlow v9 / IPFIX: Wireshark (an independent decoder) reads every
 * record of all four export styles exactly as the project's own FlowDecoder does, sees the
 * sampler options each exporter announces, and the sequence numbers count as the RFCs say.
 */
interface WorldExporter {
  index: number;
  address: string;
  style: string;
  version: number;
  domainId: number;
  sampling: number;
  mode: string;
  bootMs: number;
  samplerId: number;
  records: number;
  messages: number;
}

const BASE: Partial<SimOptions> = {
  lines: 150,
  hours: 1,
  exporters: 4,
  protocol: 'mixed',
  sampling: [10, 100, 1000, 37],
  ipv6Share: 0.5,
  background: 0.5,
  rulesDir,
};

function tsharkTimes(r: TsharkFlowRecord): [number | undefined, number | undefined] {
  return [r.startMs ?? r.derivedStartMs, r.endMs ?? r.derivedEndMs];
}

test('tshark decodes every exported record exactly as FlowDecoder does (v9 + IPFIX, IPv4 + IPv6)', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(rulesDir);
    const s = await simulate({ ...BASE, seed: 3 }, { dir: t.dir }, dict);
    const pcap = join(t.dir, 'exports.pcap');
    const world = readJson<{ exporters: WorldExporter[] }>(join(t.dir, 'world.json'));
    assert.deepEqual(
      world.exporters.map((e) => e.style),
      ['pmacct-v9', 'softflowd-ipfix', 'softflowd-v9', 'ipfix-selector'],
    );
    // Port 2055 is declared NetFlow; tshark decodes IPFIX on its registered port 4739 by itself.
    const ts = await tsharkDecode(pcap, 2055);
    const ours = await decodeCapture(pcap);
    assert.equal(ours.flows.length, s.records);
    assert.equal(ts.records.length, s.records, 'tshark saw a different number of flow records');
    assert.ok(ts.records.some((r) => r.ipVersion === 6) && ts.records.some((r) => r.ipVersion === 4));

    // Record by record, in capture order (both walk the sets of a message in order).
    const byFrame = new Map<number, typeof ours.flows>();
    for (const f of ours.flows) {
      const l = byFrame.get(f.frame) ?? [];
      l.push(f);
      byFrame.set(f.frame, l);
    }
    const seen = new Map<number, number>();
    for (const r of ts.records) {
      const i = seen.get(r.frame) ?? 0;
      seen.set(r.frame, i + 1);
      const o = byFrame.get(r.frame)?.[i];
      assert.ok(o, `frame ${r.frame}: tshark has a record ${i + 1} we do not`);
      const [start, end] = tsharkTimes(r);
      assert.deepEqual(
        { src: r.src, dst: r.dst, sp: r.srcPort, dp: r.dstPort, proto: r.protocol, packets: r.packets, bytes: r.bytes, start, end },
        { src: o.src, dst: o.dst, sp: o.srcPort, dp: o.dstPort, proto: o.proto, packets: o.packets, bytes: o.bytes, start: o.startMs, end: o.endMs },
        `frame ${r.frame} record ${i + 1}`,
      );
    }

    // Sampler options as each style announces them, and the rate our decoder applied.
    for (const e of world.exporters) {
      const opts = ts.options.filter((o) => o.exporter === e.address);
      assert.ok(opts.length >= 1, `no options record from ${e.address}`);
      const o = opts[0]!;
      switch (e.style) {
        case 'pmacct-v9':
          assert.deepEqual([o.samplerId, o.samplerMode, o.samplerRandomInterval], [e.samplerId, 2, e.sampling]);
          break;
        case 'softflowd-v9':
          assert.deepEqual([o.samplingInterval, o.samplingAlgorithm], [e.sampling, 2]);
          break;
        case 'softflowd-ipfix':
          assert.deepEqual([o.samplingPacketInterval, o.samplingPacketSpace, o.selectorAlgorithm, o.systemInitTimeMs], [1, e.sampling - 1, 3, e.bootMs]);
          break;
        case 'ipfix-selector':
          assert.deepEqual([o.samplerId, o.samplingPacketInterval, o.samplingPacketSpace, o.selectorAlgorithm], [e.samplerId, 1, e.sampling - 1, 3]);
          break;
      }
      const rates = new Set(ours.flows.filter((f) => f.exporter === e.address).map((f) => f.sampling));
      assert.deepEqual([...rates], [e.sampling], `sampling rate applied to ${e.address}`);
      // Sequence numbers: v9 counts messages; IPFIX counts data records (options included) before the message.
      const msgs = ts.messages.filter((m) => m.exporter === e.address);
      assert.equal(msgs.length, e.messages);
      for (let i = 1; i < msgs.length; i++) {
        const want = e.version === 9 ? msgs[i - 1]!.sequence + 1 : msgs[i - 1]!.sequence + msgs[i - 1]!.dataRecords;
        assert.equal(msgs[i]!.sequence, want >>> 0, `${e.address} message ${i}`);
      }
      assert.ok(msgs.every((m) => m.domainId === e.domainId));
    }
    for (const d of ours.decoder.registry.all()) {
      const c = d.counters;
      assert.deepEqual(
        {
          gaps: c.sequenceGaps,
          lost: c.lost,
          missing: c.missingTemplateSets,
          malformed: c.malformedPackets + c.malformedSets + c.malformedRecords,
          unknownRate: c.unknownRateRecords,
        },
        { gaps: 0, lost: 0, missing: 0, malformed: 0, unknownRate: 0 },
        `decoder counters of ${d.exporterText}`,
      );
    }
  } finally {
    t.cleanup();
  }
});

test('deterministic sampling is announced as such by every style', async () => {
  const t = tempDir();
  try {
    await simulate({ ...BASE, lines: 40, seed: 4, samplingMode: 'deterministic' }, { dir: t.dir });
    const world = readJson<{ exporters: WorldExporter[] }>(join(t.dir, 'world.json'));
    const ts = await tsharkDecode(join(t.dir, 'exports.pcap'), 2055);
    for (const e of world.exporters) {
      const o = ts.options.find((x) => x.exporter === e.address)!;
      const algo = e.style === 'pmacct-v9' ? o.samplerMode : e.style === 'softflowd-v9' ? o.samplingAlgorithm : o.selectorAlgorithm;
      assert.equal(algo, 1, `${e.style}: deterministic / systematic count-based`);
    }
  } finally {
    t.cleanup();
  }
});

test('an exchange exporting IPFIX: tshark reads the member routers’ MACs in every record as FlowDecoder does, each the MAC of the host’s member', async () => {
  const t = tempDir();
  try {
    const s = await simulate({ ...BASE, exporters: 2, sampling: [10], ixpMembers: 3, ixpExport: 'ipfix', seed: 4 }, { dir: t.dir });
    const pcap = join(t.dir, 'exports.pcap');
    const world = readJson<{ exporters: WorldExporter[] }>(join(t.dir, 'world.json'));
    assert.deepEqual(
      world.exporters.map((e) => e.style),
      ['ixp-ipfix', 'ixp-ipfix'],
    );
    const ixf = readJson<{ member_list: { asnum: number; connection_list: { vlan_list: { ipv4?: { mac_addresses?: string[] } }[] }[] }[] }>(
      join(t.dir, 'ixf-members.json'),
    );
    const asnOfMac = new Map<string, number>();
    for (const m of ixf.member_list)
      for (const c of m.connection_list) for (const v of c.vlan_list) for (const mac of v.ipv4?.mac_addresses ?? []) asnOfMac.set(mac, m.asnum);
    // Host address (IPv4, or the IPv6 line prefix) → member AS: lines.csv joined with line-members.csv.
    const rows = (f: string) =>
      readFileSync(join(t.dir, f), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(','));
    const asnOfLine = new Map(rows('line-members.csv').map(([sub, asn]) => [sub!, Number(asn)]));
    const memberOfHost = new Map<string, number>();
    for (const [sub, v4, v6] of rows('lines.csv')) {
      memberOfHost.set(v4!, asnOfLine.get(sub!)!);
      if (v6) memberOfHost.set(v6, asnOfLine.get(sub!)!);
    }
    let checked = 0;
    const ts = await tsharkDecode(pcap, 2055);
    const ours = await decodeCapture(pcap);
    assert.equal(ts.records.length, s.records);
    assert.equal(ours.flows.length, s.records);
    for (const [i, r] of ts.records.entries()) {
      const o = ours.flows[i]!;
      assert.deepEqual([r.raw['cflow.srcmac'], r.raw['cflow.dstmac']], [o.srcMac, o.dstMac], `record ${i + 1}`);
      // One end is the backends' (cloud member) router, the other the host's member router.
      const [sAsn, dAsn] = [asnOfMac.get(o.srcMac), asnOfMac.get(o.dstMac)];
      const hostEnd = sAsn === 64999 ? { asn: dAsn, addr: o.dst } : { asn: sAsn, addr: o.src };
      assert.ok(sAsn === 64999 || dAsn === 64999, `record ${i + 1}: no end behind the cloud member (${o.srcMac} → ${o.dstMac})`);
      const want = memberOfHost.get(hostEnd.addr.includes(':') ? v6Line(hostEnd.addr, 56) : hostEnd.addr);
      assert.ok(want !== undefined, `record ${i + 1}: ${hostEnd.addr} is no simulated host`);
      assert.equal(hostEnd.asn, want, `record ${i + 1}: ${hostEnd.addr}`);
      checked++;
    }
    assert.equal(checked, s.records);
  } finally {
    t.cleanup();
  }
});
