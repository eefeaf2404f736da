/**
 * Makes packages/decoders/testdata/: real exporters (softflowd, pmacctd's nfprobe and sfprobe)
 * export a seeded synthetic traffic capture, the first datagrams of each export are kept as a
 * small pcap, and tshark's independent decoding of exactly those datagrams is written beside it
 * as the expected records. testdata.test.ts then checks our decoder against them without any of
 * the tools. Run again only when the exporters or tshark change:
 *
 *   node packages/decoders/dist/testdata/test-generate.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcapWriter, readUdp } from '@haystack/pcap';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runPmacctd, runSfprobe, runSoftflowd, type ExporterRun } from '@haystack/testkit/exporters-run';
import { tsharkDecode } from '@haystack/testkit/tshark';
import { tsharkSflow } from '@haystack/testkit/tshark-sflow';
import { netflowKey, sflowKey, tsharkTimes, type Expected } from './test-keys.js';

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'testdata');
/** Datagrams kept per export: enough for templates, options and a few hundred records. */
const KEEP = 40;

/**
 * The first KEEP datagrams of a run's capture, as a pcap of their own, sent to the protocol's
 * usual port (the exporter sent them to an ephemeral one): the same export gives the same file.
 */
async function trim(run: ExporterRun, path: string, port: number): Promise<void> {
  const w = await PcapWriter.create(path);
  let n = 0;
  for await (const d of readUdp(run.capturePath)) {
    if (n++ >= KEEP) break;
    await w.writeUdp({ tsMs: d.tsMs, src: d.src, srcPort: d.srcPort, dst: d.dst, dstPort: port, payload: Buffer.from(d.payload) });
  }
  await w.close();
}

function group(list: { frame: number; key: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { frame, key } of list) (out[frame] ??= []).push(key);
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

async function netflow(name: string, made: string, run: ExporterRun, rate: number, port: number): Promise<void> {
  const pcap = join(OUT, `${name}.pcap`);
  await trim(run, pcap, port);
  const ts = await tsharkDecode(pcap, port);
  const initMs = ts.options.find((o) => o.systemInitTimeMs !== undefined)?.systemInitTimeMs;
  const frames = group(
    ts.records.map((t) => ({
      frame: t.frame,
      key: netflowKey({
        src: t.src,
        dst: t.dst,
        srcPort: t.srcPort,
        dstPort: t.dstPort,
        proto: t.protocol,
        packets: t.packets,
        bytes: t.bytes,
        ...tsharkTimes(t, initMs),
      }),
    })),
  );
  await write(name, { made, kind: 'netflow', port, rate, frames });
}

async function sflow(name: string, made: string, run: ExporterRun, rate: number): Promise<void> {
  const pcap = join(OUT, `${name}.pcap`);
  await trim(run, pcap, 6343);
  const samples = await tsharkSflow(pcap, 6343);
  // Samples without an IP packet (ARP, LLDP) are counted by the decoder, never published.
  const frames = group(
    samples
      .filter((s) => s.src !== undefined)
      .map((s) => ({
        frame: s.frame,
        key: sflowKey({
          src: s.src,
          dst: s.dst,
          proto: s.proto,
          srcPort: s.srcPort,
          dstPort: s.dstPort,
          bytes: s.frameLength,
          rate: s.samplingRate,
          srcMac: s.srcMac,
          dstMac: s.dstMac,
        }),
      })),
  );
  await write(name, { made, kind: 'sflow', port: 6343, rate, frames });
}

async function write(name: string, e: Expected): Promise<void> {
  const n = Object.values(e.frames).reduce((s, l) => s + l.length, 0);
  await writeFile(join(OUT, `${name}.json`), JSON.stringify(e, null, 1) + '\n');
  process.stdout.write(`${name}: ${Object.keys(e.frames).length} frames with records, ${n} records\n`);
}

const version = (cmd: string, args: string[]) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]!
      .trim();
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? '')
      .split('\n')[0]!
      .trim();
  }
};
const tshark = version('tshark', ['--version']);
const pmacct = version('pmacctd', ['-V'])
  .replace(/Running as.*/, '')
  .trim();
// No date, fixed ports: softflowd and sfprobe give the same records (.json) run after run; the
// pcaps keep each run's frame times, and pmacctd's nfprobe expires flows on its own clock, so its
// records can differ from run to run (each run's .json matches its own .pcap).
const on = `decoded by ${tshark.replace(/\.$/, '')}`;

const dir = await mkdtemp(join(tmpdir(), 'hs-testdata-'));
try {
  const traffic = join(dir, 'traffic.pcap');
  await makeTrafficPcap(traffic, { seed: 7 });
  const cap = (n: string) => join(dir, `${n}.pcap`);
  await netflow(
    'softflowd-v9',
    `softflowd (Debian 12) NetFlow v9, no sampling; ${on}`,
    await runSoftflowd({ pcap: traffic, version: 9, capturePath: cap('a') }),
    1,
    2055,
  );
  await netflow(
    'softflowd-ipfix-sampled',
    `softflowd (Debian 12) IPFIX, 1:10 sampling announced in options; ${on}`,
    await runSoftflowd({ pcap: traffic, version: 10, sampling: 10, capturePath: cap('b') }),
    10,
    4739,
  );
  await netflow(
    'nfprobe-v9-sampled',
    `${pmacct} nfprobe NetFlow v9, sampler options 1:4; ${on}`,
    await runPmacctd({ pcap: traffic, version: 9, samplingRate: 4, capturePath: cap('c') }),
    4,
    2055,
  );
  await netflow(
    'nfprobe-ipfix-sampled',
    `${pmacct} nfprobe IPFIX, sampler options 1:4; ${on}`,
    await runPmacctd({ pcap: traffic, version: 10, samplingRate: 4, capturePath: cap('d') }),
    4,
    4739,
  );
  await sflow(
    'sfprobe-sflow',
    `${pmacct} sfprobe sFlow v5, 1:8, agent 198.51.100.9; ${on}`,
    await runSfprobe({ pcap: traffic, samplingRate: 8, agentIp: '198.51.100.9', capturePath: cap('e') }),
    8,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
