import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFrames, readUdp } from '@haystack/pcap';
import {
  makeTrafficPcap,
  runPmacctd,
  runSoftflowd,
  systematicSample,
  tsharkDecode,
  type TrafficFlow,
  type TrafficSummary,
  type TsharkDecodeResult,
  type TsharkFlowRecord,
} from './exporters.js';

/** How exporters key a unidirectional flow; ICMP type/code takes the place of the destination port. */
function recordKey(r: TsharkFlowRecord): string {
  const icmp = r.protocol === 1 || r.protocol === 58;
  const dstPort = icmp ? (r.icmpTypeCode ?? r.dstPort) : r.dstPort;
  return `${r.protocol}|${r.src}|${icmp ? 0 : r.srcPort}|${r.dst}|${dstPort}`;
}

function flowKey(f: TrafficFlow): string {
  return `${f.protocol}|${f.src}|${f.srcPort}|${f.dst}|${f.dstPort}`;
}

function sum(records: TsharkFlowRecord[], k: 'packets' | 'bytes'): number {
  return records.reduce((a, r) => a + (r[k] ?? Number.NaN), 0);
}

/** Records merged per flow key (an exporter may split a flow into several records). */
function byKey(records: TsharkFlowRecord[]): Map<string, { packets: number; bytes: number; tcpFlags: number; records: TsharkFlowRecord[] }> {
  const m = new Map<string, { packets: number; bytes: number; tcpFlags: number; records: TsharkFlowRecord[] }>();
  for (const r of records) {
    const k = recordKey(r);
    const e = m.get(k) ?? { packets: 0, bytes: 0, tcpFlags: 0, records: [] };
    e.packets += r.packets ?? Number.NaN;
    e.bytes += r.bytes ?? Number.NaN;
    e.tcpFlags |= r.tcpFlags ?? 0;
    e.records.push(r);
    m.set(k, e);
  }
  return m;
}

/** Unsampled export must describe every generated flow exactly. */
function assertExactFlows(decoded: TsharkDecodeResult, traffic: TrafficSummary): void {
  assert.equal(sum(decoded.records, 'packets'), traffic.packets);
  assert.equal(sum(decoded.records, 'bytes'), traffic.bytes);
  const got = byKey(decoded.records);
  assert.equal(got.size, traffic.flows.length);
  for (const f of traffic.flows) {
    const g = got.get(flowKey(f));
    assert.ok(g, `no record for flow ${flowKey(f)}`);
    assert.equal(g.packets, f.packets, flowKey(f));
    assert.equal(g.bytes, f.bytes, flowKey(f));
    if (f.protocol === 6) assert.equal(g.tcpFlags, f.tcpFlags, flowKey(f));
  }
}

/** Sampled export: every record belongs to a real flow and cannot exceed it. */
function assertSampledFlowsPlausible(decoded: TsharkDecodeResult, traffic: TrafficSummary): void {
  const truth = new Map(traffic.flows.map((f) => [flowKey(f), f]));
  for (const [k, g] of byKey(decoded.records)) {
    const f = truth.get(k);
    assert.ok(f, `record for a flow that was never sent: ${k}`);
    assert.ok(g.packets >= 1 && g.packets <= f.packets, `${k}: ${g.packets} of ${f.packets} packets`);
    assert.ok(g.bytes >= g.packets * f.minPacketBytes && g.bytes <= g.packets * f.maxPacketBytes, `${k}: ${g.bytes} bytes in ${g.packets} packets`);
    if (f.protocol === 6) assert.equal(g.tcpFlags & ~f.tcpFlags, 0, `${k}: flags never sent`);
  }
  assert.ok(sum(decoded.records, 'packets') <= traffic.packets);
  assert.ok(sum(decoded.records, 'bytes') <= traffic.bytes);
}

function flowByKey(traffic: TrafficSummary): Map<string, TrafficFlow> {
  return new Map(traffic.flows.map((f) => [flowKey(f), f]));
}

describe('exporter harness', () => {
  let dir: string;
  let traffic: TrafficSummary;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haystack-exporters-test-'));
    traffic = await makeTrafficPcap(join(dir, 'traffic.pcap'), { seed: 7 });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makeTrafficPcap is deterministic and its summary describes the file', async () => {
    const again = await makeTrafficPcap(join(dir, 'again.pcap'), { seed: 7 });
    const other = await makeTrafficPcap(join(dir, 'other.pcap'), { seed: 8 });
    const [a, b, c] = await Promise.all([readFile(traffic.path), readFile(again.path), readFile(other.path)]);
    assert.ok(a.equals(b), 'same seed, same bytes');
    assert.ok(!a.equals(c), 'another seed, other traffic');

    const frames = readFrames(traffic.path);
    let n = 0;
    let prev = 0;
    for await (const f of frames) {
      assert.equal(f.data.length - 14, traffic.packetSizes[n]);
      assert.ok(f.tsMs >= prev, 'frames in time order');
      prev = f.tsMs;
      n++;
    }
    assert.equal(n, traffic.packets);
    assert.equal(
      traffic.packetSizes.reduce((x, y) => x + y, 0),
      traffic.bytes,
    );

    const udp = readUdp(traffic.path);
    let udpCount = 0;
    for await (const d of udp) {
      assert.ok(d.payload.length >= 0);
      udpCount++;
    }
    assert.equal(udpCount, traffic.byProtocol.udp.packets);
    assert.equal(udp.stats.skippedNonUdp, traffic.byProtocol.tcp.packets + traffic.byProtocol.icmp.packets);

    const { tcp, udp: u, icmp } = traffic.byProtocol;
    assert.equal(tcp.packets + u.packets + icmp.packets, traffic.packets);
    assert.equal(traffic.byFamily.ipv4.packets + traffic.byFamily.ipv6.packets, traffic.packets);
    assert.ok(tcp.packets > 0 && u.packets > 0 && icmp.packets > 0);
    assert.ok(traffic.byFamily.ipv6.packets > 0);
    assert.equal(
      traffic.flows.reduce((x, f) => x + f.packets, 0),
      traffic.packets,
    );
    // TCP handshake and teardown flags are there: SYN from clients, SYN|ACK and FIN|ACK.
    assert.ok(traffic.flows.some((f) => f.protocol === 6 && (f.tcpFlags & 0x13) === 0x13));
    assert.ok(traffic.lastMs - traffic.firstMs > 3 * 60_000, 'spans minutes');
    const sizes = new Set(traffic.flows.map((f) => f.packets));
    assert.ok(sizes.size > 20, 'varied packet counts');
  });

  it('softflowd v9: tshark sees every packet and byte, flow by flow', async () => {
    const run = await runSoftflowd({ pcap: traffic.path, version: 9, capturePath: join(dir, 'sf9.pcap') });
    const d = await tsharkDecode(run.capturePath, run.collectorPort);
    assert.equal(d.messages.length, run.datagrams);
    assertExactFlows(d, traffic);
    // v9 sequence numbers count export packets.
    d.messages.forEach((m, i) => assert.equal(m.sequence, i + 1));
    assert.ok(d.records.every((r) => r.version === 9 && r.exporter === '127.0.0.1' && r.domainId === 0));
    // With -a, uptime times map back to packet times; unix_secs is whole seconds, so up to 1 s early.
    const truth = flowByKey(traffic);
    for (const r of d.records) {
      const f = truth.get(recordKey(r))!;
      assert.ok(r.startMs === undefined && r.startUptimeMs !== undefined, 'v9 from softflowd carries uptime times');
      const start = f.conversationFirstMs;
      const end = f.conversationLastMs;
      assert.ok(r.derivedStartMs! <= start + 1 && r.derivedStartMs! >= start - 1001, `start ${r.derivedStartMs} vs ${start}`);
      assert.ok(r.derivedEndMs! <= end + 1 && r.derivedEndMs! >= end - 1001, `end ${r.derivedEndMs} vs ${end}`);
    }
    // The options record states "no sampling": interval 1.
    assert.ok(d.options.length >= 1);
    assert.ok(d.options.every((o) => o.samplingInterval === 1));
  });

  it('softflowd v10: tshark sees every packet and byte; uptime times anchored by systemInitTimeMilliseconds', async () => {
    const run = await runSoftflowd({ pcap: traffic.path, version: 10, capturePath: join(dir, 'sf10.pcap') });
    const d = await tsharkDecode(run.capturePath, run.collectorPort);
    assert.equal(d.messages.length, run.datagrams);
    assertExactFlows(d, traffic);
    const init = d.options.find((o) => o.systemInitTimeMs !== undefined);
    assert.ok(init, 'options record with systemInitTimeMilliseconds');
    assert.ok(Math.abs(init.systemInitTimeMs! - traffic.firstMs) <= 1);
    assert.equal(init.samplingPacketInterval, 1);
    assert.equal(init.samplingPacketSpace, 0);
    const truth = flowByKey(traffic);
    for (const r of d.records) {
      const f = truth.get(recordKey(r))!;
      // Init time and uptime are each cut to whole ms: up to 2 ms early.
      const ds = r.derivedStartMs! - f.conversationFirstMs;
      const de = r.derivedEndMs! - f.conversationLastMs;
      assert.ok(ds > -2 && ds <= 0, `start ${r.derivedStartMs} vs ${f.conversationFirstMs}`);
      assert.ok(de > -2 && de <= 0, `end ${r.derivedEndMs} vs ${f.conversationLastMs}`);
    }
    // softflowd's IPFIX sequence number already includes the flow records of its own message.
    const flowsPerFrame = new Map<number, number>();
    for (const r of d.records) flowsPerFrame.set(r.frame, (flowsPerFrame.get(r.frame) ?? 0) + 1);
    let total = 0;
    for (const m of d.messages) {
      total += flowsPerFrame.get(m.frame) ?? 0;
      assert.equal(m.sequence, total);
    }
  });

  for (const version of [9, 10] as const) {
    it(`softflowd v${version} -s 10 exports exactly frames 1, 11, 21, ... and announces the rate`, async () => {
      const run = await runSoftflowd({ pcap: traffic.path, version, sampling: 10, capturePath: join(dir, `sf${version}s.pcap`) });
      const d = await tsharkDecode(run.capturePath, run.collectorPort);
      const expected = systematicSample(traffic, 10);
      assert.equal(sum(d.records, 'packets'), expected.packets);
      assert.equal(sum(d.records, 'bytes'), expected.bytes);
      assertSampledFlowsPlausible(d, traffic);
      assert.ok(d.options.length >= 1);
      for (const o of d.options) {
        if (version === 9) assert.equal(o.samplingInterval, 10);
        else {
          // PSAMP: select 1, skip 9 → rate (1 + 9) / 1.
          assert.equal(o.samplingPacketInterval, 1);
          assert.equal(o.samplingPacketSpace, 9);
        }
      }
    });
  }

  for (const version of [9, 10] as const) {
    it(`pmacctd v${version} with sampling_rate 10: sampler options, sampler id on records, plausible counts`, async () => {
      const run = await runPmacctd({ pcap: traffic.path, version, samplingRate: 10, capturePath: join(dir, `pm${version}s.pcap`) });
      const d = await tsharkDecode(run.capturePath, run.collectorPort);
      assert.equal(d.messages.length, run.datagrams);
      assert.ok(d.options.length >= 1);
      const samplerIds = new Set(d.options.map((o) => o.samplerId));
      for (const o of d.options) {
        assert.equal(o.samplerRandomInterval, 10);
        assert.equal(o.samplerMode, 2);
      }
      assert.equal(samplerIds.size, 1);
      assert.ok(
        d.records.every((r) => samplerIds.has(r.samplerId)),
        'every record names the sampler',
      );
      assertSampledFlowsPlausible(d, traffic);
      // Random 1-in-10 selection, counts not renormalised: about a tenth of the packets. The
      // bound is 6 standard deviations of a binomial count, so a false alarm is ~1e-9.
      const mean = traffic.packets / 10;
      const sd = Math.sqrt(traffic.packets * 0.1 * 0.9);
      const got = sum(d.records, 'packets');
      assert.ok(Math.abs(got - mean) <= 6 * sd, `${got} sampled packets, expected about ${mean}`);
      const truth = flowByKey(traffic);
      for (const r of d.records) {
        const f = truth.get(recordKey(r))!;
        const ok = r.startMs! > f.conversationFirstMs - 1 && r.endMs! <= f.conversationLastMs && r.startMs! <= r.endMs!;
        assert.ok(ok, 'absolute ms times inside the conversation');
      }
    });
  }

  it('pmacctd v10 without sampling, engine 7: exact totals, observation domain 7, absolute ms times', async () => {
    const run = await runPmacctd({ pcap: traffic.path, version: 10, engine: 7, capturePath: join(dir, 'pm10.pcap') });
    const d = await tsharkDecode(run.capturePath, run.collectorPort);
    assertExactFlows(d, traffic);
    assert.equal(d.options.length, 0, 'no sampler, no options');
    assert.ok(d.records.every((r) => r.domainId === 7 && r.samplerId === undefined));
    const truth = flowByKey(traffic);
    for (const r of d.records) {
      const f = truth.get(recordKey(r))!;
      // Packet times cut to whole ms.
      const ds = r.startMs! - f.conversationFirstMs;
      const de = r.endMs! - f.conversationLastMs;
      assert.ok(ds > -1 && ds <= 0 && de > -1 && de <= 0, `${r.startMs}..${r.endMs} vs ${f.conversationFirstMs}..${f.conversationLastMs}`);
    }
    // pmacct's IPFIX sequence counts data records (options included) sent before the message.
    let before = 0;
    for (const m of d.messages) {
      assert.equal(m.sequence, before);
      before += m.dataRecords;
    }
  });

  it('reports a missing exporter binary clearly', async () => {
    await assert.rejects(runSoftflowd({ pcap: traffic.path, version: 9, binary: '/nonexistent/softflowd' }), /not found on PATH.*softflowd/);
    await assert.rejects(runPmacctd({ pcap: traffic.path, version: 9, binary: '/nonexistent/pmacctd' }), /not found on PATH.*pmacct/);
  });

  it('kills an exporter that does not exit in time, with its children', async () => {
    let pid = 0;
    await assert.rejects(
      runPmacctd({
        pcap: traffic.path,
        version: 9,
        timeoutMs: 1500,
        extraConfig: { pcap_savefile_wait: true },
        onSpawn: (p) => (pid = p),
      }),
      /no exit within 1500 ms/,
    );
    assert.ok(pid > 0);
    // The whole process group is gone, zombies included (pmacctd reaped its plugin on SIGTERM).
    assert.deepEqual(await groupMembers(pid), []);
  });

  it('an exporter run with nothing to export yields an empty, decodable capture', async () => {
    const empty = await makeTrafficPcap(join(dir, 'empty.pcap'), { flows: 0 });
    const run = await runSoftflowd({ pcap: empty.path, version: 10 });
    try {
      const d = await tsharkDecode(run.capturePath, run.collectorPort);
      assert.equal(d.records.length, 0);
      assert.equal(run.datagrams, d.messages.length);
    } finally {
      await rm(join(run.capturePath, '..'), { recursive: true, force: true });
    }
  });
});

/** Processes (zombies included) of a process group, from /proc. */
async function groupMembers(pgid: number): Promise<number[]> {
  const { readdir } = await import('node:fs/promises');
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command: state, ppid, pgrp, ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid) out.push(Number(name));
    } catch {
      // process ended while we looked
    }
  }
  return out;
}
