// The load-test corpus: a recorded export stream from real exporters. Synthetic traffic
// (testkit's makeTrafficPcap, many conversations, in chunks to bound memory) is exported by
// softflowd (NetFlow v9 and IPFIX), pmacctd (v9, for the decode bench) and pmacctd's sfprobe
// (sFlow v5, every packet sampled: the sFlow benches); each export is
// captured to pcap by testkit's runners. The chunks of one exporter/version are joined into one
// gap-free stream (sequence numbers rewritten as one exporter would number them) and cached
// under load-test/.cache/ as a pcap plus a compact stream file the C sender loops over.
//
//   node load-test/dist/corpus.js [--rebuild] [--chunks N] [--flows N] [--loops N]
//
// --loops N also writes <kind>-xN.pcap: the stream looped N times, still gap-free, for
// `haystack replay` or tshark.
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readUdpSync, PcapWriter } from '@haystack/pcap';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runSoftflowd, runPmacctd, runSfprobe } from '@haystack/testkit/exporters-run';

export const LOAD_TEST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE_DIR = join(LOAD_TEST_DIR, '.cache');

export type CorpusKind = 'softflowd-v9' | 'softflowd-ipfix' | 'pmacctd-v9' | 'sfprobe-sflow';
export const CORPUS_KINDS: readonly CorpusKind[] = ['softflowd-v9', 'softflowd-ipfix', 'pmacctd-v9', 'sfprobe-sflow'];
/** The corpus's code for sFlow v5 streams (its version field is a u32 5; 133 as in flow batches). */
export const SFLOW = 133;
export type CorpusVersion = 9 | 10 | typeof SFLOW;

export interface CorpusDatagram {
  /** The datagram as exported, sequence number already rewritten for its place in the stream. */
  payload: Buffer;
  /** Flow (data) records in it: what a collector should store. */
  dataRecords: number;
  /** Options data records (sampler announcements): not flows. */
  optionsRecords: number;
  /** Template / options template records. */
  templateRecords: number;
  /** How far this datagram moves the sequence number: 1 for v9, data + options records for IPFIX. */
  seqUnits: number;
}

export interface Corpus {
  kind: CorpusKind;
  version: CorpusVersion;
  /** Exporter address as captured (softflowd/pmacctd sent from 127.0.0.1). */
  exporter: string;
  datagrams: CorpusDatagram[];
  /** Sum of dataRecords. */
  records: number;
  bytes: number;
  /** The joined, gap-free capture. */
  pcapPath: string;
  /** The same stream for the C sender (format: see writeStreamFile). */
  streamPath: string;
}

export interface CorpusOptions {
  /** Traffic chunks (each one makeTrafficPcap + one exporter run per kind). Default 4. */
  chunks?: number;
  /** Conversations per chunk. Default 25,000 (≈ 49k directional flow records per chunk). */
  flows?: number;
  /** Ignore the cache. */
  rebuild?: boolean;
  /** Progress messages (default: stderr). */
  log?: (msg: string) => void;
}

interface Manifest {
  format: 1;
  chunks: number;
  flows: number;
  kinds: Record<string, { datagrams: number; records: number; optionsRecords: number; templateRecords: number; bytes: number; exporterOutput: string }>;
}

const DEFAULTS = { chunks: 4, flows: 25_000 };
/** pmacctd is slow (~11 s per chunk) and only feeds the decode bench: one chunk is plenty. */
const PMACCT_CHUNKS = 1;
/** sfprobe samples every packet (rate 1): one chunk gives several times the flow records of the others. */
const SFLOW_CHUNKS = 1;
const chunksOf = (kind: CorpusKind, all: number) =>
  kind === 'pmacctd-v9' ? Math.min(PMACCT_CHUNKS, all) : kind === 'sfprobe-sflow' ? Math.min(SFLOW_CHUNKS, all) : all;

// ---- independent record counting -------------------------------------------------------
//
// Counts records per datagram from the sets and templates alone (not with Haystack's decoder),
// so "records sent" does not depend on the code under test.

interface TemplateInfo {
  length: number;
  options: boolean;
}

export interface RecordCounts {
  data: number;
  options: number;
  templates: number;
}

const u16 = (b: Uint8Array, p: number) => (b[p]! << 8) | b[p + 1]!;

/** Flow samples of one sFlow v5 datagram (IPv4 agent), framed by their lengths alone. */
function countSflow(b: Buffer): RecordCounts {
  if (b.readUInt32BE(0) !== 5 || b.readUInt32BE(4) !== 1) throw new Error('not an sFlow v5 datagram with an IPv4 agent');
  const n = b.readUInt32BE(24);
  let p = 28;
  let data = 0;
  for (let i = 0; i < n; i++) {
    const format = b.readUInt32BE(p);
    const len = b.readUInt32BE(p + 4);
    if (p + 8 + len > b.length) throw new Error(`bad sample length ${len} at ${p}`);
    if (format === 1 || format === 3) data++;
    p += 8 + len;
  }
  return { data, options: 0, templates: 0 };
}

/** Counts the records of one v9, IPFIX or sFlow datagram; learns templates into `tpl`. Throws on what softflowd/pmacctd never send. */
export function countRecords(b: Buffer, tpl: Map<number, TemplateInfo>): RecordCounts {
  if (b.length >= 4 && b.readUInt32BE(0) === 5) return countSflow(b);
  const version = u16(b, 0);
  const out = { data: 0, options: 0, templates: 0 };
  let p = version === 9 ? 20 : version === 10 ? 16 : -1;
  if (p < 0) throw new Error(`unexpected export version ${version}`);
  const end = version === 10 ? u16(b, 2) : b.length;
  while (p + 4 <= end) {
    const id = u16(b, p);
    const len = u16(b, p + 2);
    if (len < 4 || p + len > end) throw new Error(`bad set length ${len} at ${p}`);
    let q = p + 4;
    const setEnd = p + len;
    if ((version === 9 && id === 0) || (version === 10 && id === 2)) {
      while (q + 4 <= setEnd) {
        const tid = u16(b, q);
        const n = u16(b, q + 2);
        if (tid === 0) break; // padding
        q += 4;
        let length = 0;
        for (let i = 0; i < n; i++) {
          const fid = u16(b, q);
          const flen = u16(b, q + 2);
          if (flen === 0xffff) throw new Error('variable-length field: not counted here');
          length += flen;
          q += version === 10 && fid & 0x8000 ? 8 : 4;
        }
        tpl.set(tid, { length, options: false });
        out.templates++;
      }
    } else if (version === 9 && id === 1) {
      while (q + 6 <= setEnd) {
        const tid = u16(b, q);
        const scopeLen = u16(b, q + 2);
        const optLen = u16(b, q + 4);
        if (tid === 0) break;
        q += 6;
        let length = 0;
        for (const stop = q + scopeLen + optLen; q < stop; q += 4) length += u16(b, q + 2);
        tpl.set(tid, { length, options: true });
        out.templates++;
      }
    } else if (version === 10 && id === 3) {
      while (q + 6 <= setEnd) {
        const tid = u16(b, q);
        const n = u16(b, q + 2);
        if (tid === 0) break;
        q += 6;
        let length = 0;
        for (let i = 0; i < n; i++) {
          const fid = u16(b, q);
          const flen = u16(b, q + 2);
          if (flen === 0xffff) throw new Error('variable-length field: not counted here');
          length += flen;
          q += fid & 0x8000 ? 8 : 4;
        }
        tpl.set(tid, { length, options: true });
        out.templates++;
      }
    } else if (id >= 256) {
      const t = tpl.get(id);
      if (!t) throw new Error(`data set ${id} before its template`);
      const n = Math.floor((len - 4) / t.length);
      if (t.options) out.options += n;
      else out.data += n;
    }
    p = setEnd;
  }
  return out;
}

// ---- sequence numbers --------------------------------------------------------------------

/** Offset of the sequence number in the export header. */
export function seqOffset(version: number): number {
  return version === 9 ? 12 : version === SFLOW ? 16 : 8;
}

/**
 * Writes sequence numbers for one exporter/domain: v9 counts export packets (RFC 3954 §5.1),
 * IPFIX counts data records sent before this message (RFC 7011 §3.1). `start` is the first
 * datagram's number; returns the next one. (softflowd's own IPFIX numbers include the current
 * message's records, which a strict collector reads as gaps and reorderings; we renumber.)
 */
export function renumber(datagrams: CorpusDatagram[], version: number, start = 0): number {
  const off = seqOffset(version);
  let seq = start >>> 0;
  for (const d of datagrams) {
    d.payload.writeUInt32BE(seq, off);
    seq = (seq + d.seqUnits) >>> 0;
  }
  return seq;
}

/** Sum of seqUnits: how far one pass over the corpus moves the sequence. */
export function seqPerPass(c: Corpus): number {
  let s = 0;
  for (const d of c.datagrams) s += d.seqUnits;
  return s;
}

// ---- stream file for the C sender -------------------------------------------------------
//
//   header 32 bytes: "HSTR", u32 format (1), u32 datagrams, u32 export version (9|10),
//                    u32 data records (one pass), u32 seq offset, u32 reserved, u32 reserved
//   per datagram:    u32 length, u32 data records, u32 seq units, then the payload
// All integers little-endian (the sender runs on this machine).

export function writeStreamFile(path: string, version: number, datagrams: CorpusDatagram[]): void {
  let size = 32;
  for (const d of datagrams) size += 12 + d.payload.length;
  const out = Buffer.alloc(size);
  out.write('HSTR', 0, 'latin1');
  out.writeUInt32LE(1, 4);
  out.writeUInt32LE(datagrams.length, 8);
  out.writeUInt32LE(version, 12);
  out.writeUInt32LE(
    datagrams.reduce((s, d) => s + d.dataRecords, 0),
    16,
  );
  out.writeUInt32LE(seqOffset(version), 20);
  let p = 32;
  for (const d of datagrams) {
    out.writeUInt32LE(d.payload.length, p);
    out.writeUInt32LE(d.dataRecords, p + 4);
    out.writeUInt32LE(d.seqUnits, p + 8);
    d.payload.copy(out, p + 12);
    p += 12 + d.payload.length;
  }
  writeFileSync(path, out);
}

// ---- building ---------------------------------------------------------------------------

function versionOf(kind: CorpusKind): CorpusVersion {
  return kind === 'softflowd-ipfix' ? 10 : kind === 'sfprobe-sflow' ? SFLOW : 9;
}

function paths(kind: CorpusKind) {
  return { pcap: join(CACHE_DIR, `${kind}.pcap`), stream: join(CACHE_DIR, `${kind}.stream`) };
}

function chunkCapture(kind: CorpusKind, i: number): string {
  return join(CACHE_DIR, 'chunks', `${kind}-${i}.pcap`);
}

/** Reads one joined capture and classifies its datagrams. */
function readCapture(file: string, version: CorpusVersion): { datagrams: CorpusDatagram[]; exporter: string; ts: number[] } {
  const tpl = new Map<number, TemplateInfo>();
  const datagrams: CorpusDatagram[] = [];
  const ts: number[] = [];
  let exporter = '';
  for (const d of readUdpSync(readFileSync(file))) {
    const payload = Buffer.from(d.payload); // own copy: the capture buffer is not ours to keep views into
    const v = payload.readUInt32BE(0) === 5 ? SFLOW : u16(payload, 0);
    if (v !== version) throw new Error(`${file}: datagram of version ${v} in a v${version} stream`);
    const c = countRecords(payload, tpl);
    // v9 and sFlow number datagrams; IPFIX numbers records.
    datagrams.push({
      payload,
      dataRecords: c.data,
      optionsRecords: c.options,
      templateRecords: c.templates,
      seqUnits: version === 10 ? c.data + c.options : 1,
    });
    ts.push(d.tsMs);
    exporter ||= d.src;
  }
  return { datagrams, exporter, ts };
}

/** The source id / observation domain of every datagram must be one: the sender numbers one sequence. */
function assertOneDomain(datagrams: CorpusDatagram[], version: number, what: string): void {
  const off = version === 9 ? 16 : 12; // sFlow: the sub-agent id, also at 12 (IPv4 agent)
  const ids = new Set(datagrams.map((d) => d.payload.readUInt32BE(off)));
  if (ids.size !== 1) throw new Error(`${what}: ${ids.size} source ids / observation domains; the sender numbers only one`);
}

async function build(opts: Required<Omit<CorpusOptions, 'log' | 'rebuild'>>, log: (m: string) => void): Promise<Manifest> {
  mkdirSync(join(CACHE_DIR, 'chunks'), { recursive: true });
  const manifest: Manifest = { format: 1, chunks: opts.chunks, flows: opts.flows, kinds: {} };
  const outputs: Record<string, string> = {};
  for (let i = 0; i < opts.chunks; i++) {
    const traffic = join(CACHE_DIR, 'chunks', `traffic-${i}.pcap`);
    const t0 = performance.now();
    // Distinct seeds → distinct servers, ports and sizes per chunk; consecutive time spans.
    const spanMs = 10 * 60_000;
    const s = await makeTrafficPcap(traffic, {
      seed: 1000 + i,
      flows: opts.flows,
      ipv4Hosts: 5000,
      ipv6Hosts: 2000,
      ipv6Share: 0.3,
      startMs: Date.UTC(2024, 2, 1, 12, 0, 0) + i * spanMs,
      durationMs: spanMs,
      // Short conversations keep the traffic pcap small (memory) while giving many flows.
      maxPackets: 8,
    });
    log(`chunk ${i + 1}/${opts.chunks}: ${s.packets} packets, ${s.flows.length} directional flows (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    for (const kind of CORPUS_KINDS) {
      if (i >= chunksOf(kind, opts.chunks)) continue;
      const t1 = performance.now();
      const version = versionOf(kind);
      const capturePath = chunkCapture(kind, i);
      const run =
        version === SFLOW
          ? await runSfprobe({ pcap: traffic, samplingRate: 1, agentIp: '127.0.0.1', capturePath, timeoutMs: 300_000 })
          : kind === 'pmacctd-v9'
            ? await runPmacctd({ pcap: traffic, version, capturePath, timeoutMs: 120_000 })
            : // -m: a flow table big enough that flows end by the pcap's end, not by table pressure.
              await runSoftflowd({ pcap: traffic, version, capturePath, timeoutMs: 120_000, extraArgs: ['-m', '200000'] });
      outputs[kind] = run.output;
      log(`  ${kind}: ${run.datagrams} datagrams (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
    }
    rmSync(traffic, { force: true });
  }
  for (const kind of CORPUS_KINDS) {
    const version = versionOf(kind);
    const all: CorpusDatagram[] = [];
    const times: number[] = [];
    let exporter = '';
    const chunks = chunksOf(kind, opts.chunks);
    for (let i = 0; i < chunks; i++) {
      const c = readCapture(chunkCapture(kind, i), version);
      // Each exporter run started its own templates; the first datagram must carry them.
      if (version !== SFLOW && c.datagrams[0]!.templateRecords === 0) throw new Error(`${kind} chunk ${i}: first datagram carries no template`);
      all.push(...c.datagrams);
      times.push(...c.ts);
      exporter ||= c.exporter;
    }
    assertOneDomain(all, version, kind);
    renumber(all, version, 0);
    const p = paths(kind);
    // One exporter, one source port: the joined stream looks like one long export.
    const w = await PcapWriter.create(p.pcap);
    const t0 = times[0] ?? Date.now();
    for (let i = 0; i < all.length; i++)
      await w.writeUdp({ tsMs: t0 + i * 0.01, src: exporter, srcPort: 40000, dst: '127.0.0.1', dstPort: 2055, payload: all[i]!.payload });
    await w.close();
    writeStreamFile(p.stream, version, all);
    manifest.kinds[kind] = {
      datagrams: all.length,
      records: all.reduce((s, d) => s + d.dataRecords, 0),
      optionsRecords: all.reduce((s, d) => s + d.optionsRecords, 0),
      templateRecords: all.reduce((s, d) => s + d.templateRecords, 0),
      bytes: all.reduce((s, d) => s + d.payload.length, 0),
      exporterOutput: (outputs[kind] ?? '').split('\n').slice(0, 40).join('\n'),
    };
    log(
      `${kind}: ${all.length} datagrams, ${manifest.kinds[kind]!.records} flow records (${(manifest.kinds[kind]!.records / all.length).toFixed(1)}/datagram) → ${p.pcap}`,
    );
  }
  writeFileSync(join(CACHE_DIR, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

function readManifest(): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(join(CACHE_DIR, 'manifest.json'), 'utf8')) as Manifest;
    for (const k of CORPUS_KINDS) if (!existsSync(paths(k).pcap) || !existsSync(paths(k).stream)) return null;
    return m.format === 1 ? m : null;
  } catch {
    return null;
  }
}

/** Builds the corpus if the cache is missing or was built with other options. */
export async function ensureCorpus(opts: CorpusOptions = {}): Promise<Manifest> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[corpus] ${m}\n`));
  const want = { chunks: opts.chunks ?? DEFAULTS.chunks, flows: opts.flows ?? DEFAULTS.flows };
  const have = opts.rebuild ? null : readManifest();
  if (have && have.chunks === want.chunks && have.flows === want.flows) return have;
  log(`building corpus in ${CACHE_DIR} (${want.chunks} chunks × ${want.flows} conversations)`);
  return build(want, log);
}

/** Loads one stream of the (cached) corpus into memory. */
export async function loadCorpus(kind: CorpusKind, opts: CorpusOptions = {}): Promise<Corpus> {
  await ensureCorpus(opts);
  const version = versionOf(kind);
  const p = paths(kind);
  const c = readCapture(p.pcap, version);
  return {
    kind,
    version,
    exporter: c.exporter,
    datagrams: c.datagrams,
    records: c.datagrams.reduce((s, d) => s + d.dataRecords, 0),
    bytes: c.datagrams.reduce((s, d) => s + d.payload.length, 0),
    pcapPath: p.pcap,
    streamPath: p.stream,
  };
}

/** Writes the stream looped `loops` times, numbered on across loops (still gap-free). */
export async function writeLooped(c: Corpus, loops: number, path: string): Promise<void> {
  const w = await PcapWriter.create(path);
  const t0 = Date.UTC(2024, 2, 1, 12, 0, 0);
  let seq = 0;
  let i = 0;
  for (let l = 0; l < loops; l++) {
    seq = renumber(c.datagrams, c.version, seq);
    for (const d of c.datagrams)
      await w.writeUdp({ tsMs: t0 + i++ * 0.01, src: c.exporter, srcPort: 40000, dst: '127.0.0.1', dstPort: 2055, payload: d.payload });
  }
  await w.close();
  renumber(c.datagrams, c.version, 0);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const opts: CorpusOptions = {
    rebuild: process.argv.includes('--rebuild'),
    chunks: arg('--chunks') ? Number(arg('--chunks')) : undefined,
    flows: arg('--flows') ? Number(arg('--flows')) : undefined,
  };
  const m = await ensureCorpus(opts);
  const loops = Number(arg('--loops') ?? 0);
  for (const kind of CORPUS_KINDS) {
    const k = m.kinds[kind]!;
    const p = paths(kind);
    process.stdout.write(
      `${kind}: ${k.datagrams} datagrams, ${k.records} flow records (${(k.records / k.datagrams).toFixed(1)}/datagram), ${k.optionsRecords} options records, ${k.templateRecords} template records, ${(k.bytes / 1e6).toFixed(1)} MB payload\n  ${p.pcap} (${(statSync(p.pcap).size / 1e6).toFixed(1)} MB)\n  ${p.stream}\n`,
    );
    if (loops > 0) {
      const c = await loadCorpus(kind, opts);
      const out = join(CACHE_DIR, `${kind}-x${loops}.pcap`);
      await writeLooped(c, loops, out);
      process.stdout.write(`  looped ×${loops}: ${out}\n`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
