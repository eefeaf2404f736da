// Public readers: frames or UDP datagrams, from a file (streamed in chunks, bounded memory)
// or from a Buffer. Each reader exposes the stats it accumulates while being iterated.
import { formatIpv4, formatIpv6 } from './addr.js';
import { decodeFrame, FrameKind, newUdpLocation } from './decode.js';
import { captureChunks } from './source.js';
import { PcapParser, type ParseOptions, type PcapFrame, type PcapStats } from './parser.js';

/** A UDP datagram found in a capture. */
export interface UdpDatagram {
  /** Capture time, Unix ms with fraction (NaN for pcapng Simple Packet Blocks). */
  tsMs: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** The UDP payload: a view into the file chunk, not a copy. */
  payload: Buffer;
  /** Packet number in the file, 1-based like tshark's frame.number. */
  index: number;
}

export interface ReadOptions extends ParseOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  chunkSize?: number;
}

/** A file path, or the whole capture already in memory. */
export type PcapSource = string | Uint8Array;

/** An async-iterable reader; `stats` is complete once iteration has finished. */
export interface AsyncReader<T> extends AsyncIterable<T> {
  readonly stats: PcapStats;
}

/** A synchronous reader over an in-memory capture. */
export interface SyncReader<T> extends Iterable<T> {
  readonly stats: PcapStats;
}

function copyFrame(f: PcapFrame): PcapFrame {
  return {
    index: f.index,
    tsMs: f.tsMs,
    tsSec: f.tsSec,
    tsNsec: f.tsNsec,
    linkType: f.linkType,
    interfaceId: f.interfaceId,
    data: f.data,
    originalLength: f.originalLength,
  };
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Runs the parser over the source, calling `emit` for each frame (the parser's reused object). */
async function* driveAsync(parser: PcapParser, source: PcapSource, chunkSize: number): AsyncGenerator<PcapFrame> {
  if (typeof source !== 'string') {
    yield* driveSync(parser, source);
    return;
  }
  // Fresh buffers per chunk: datagrams handed out are views into them and must stay valid.
  for await (const chunk of captureChunks(source, chunkSize)) {
    parser.push(chunk);
    while (parser.next()) yield parser.frame;
  }
  while (parser.next()) yield parser.frame;
  parser.end();
}

function* driveSync(parser: PcapParser, source: Uint8Array): Generator<PcapFrame> {
  parser.push(toBuffer(source));
  while (parser.next()) yield parser.frame;
  parser.end();
}

/** Every packet of a capture, as stored (link-layer bytes included). */
export function readFrames(source: PcapSource, opts: ReadOptions = {}): AsyncReader<PcapFrame> {
  const parser = new PcapParser(opts);
  const claim = once();
  return {
    stats: parser.stats,
    async *[Symbol.asyncIterator]() {
      claim();
      for await (const f of driveAsync(parser, source, opts.chunkSize ?? DEFAULT_CHUNK)) yield copyFrame(f);
    },
  };
}

/** Every packet of an in-memory capture. */
export function readFramesSync(source: Uint8Array, opts: ParseOptions = {}): SyncReader<PcapFrame> {
  const parser = new PcapParser(opts);
  const claim = once();
  return {
    stats: parser.stats,
    *[Symbol.iterator]() {
      claim();
      for (const f of driveSync(parser, source)) yield copyFrame(f);
    },
  };
}

const DEFAULT_CHUNK = 1024 * 1024;

/** A reader owns one parser, so a second pass would continue from the end: refuse it clearly. */
function once(): () => void {
  let used = false;
  return () => {
    if (used) throw new Error('a pcap reader can be iterated only once; create a new one');
    used = true;
  };
}

/**
 * Decodes a frame into a UdpDatagram, or counts why it is not one. Returns undefined for
 * skipped frames.
 */
function makeUdpDecoder(stats: PcapStats): (f: PcapFrame) => UdpDatagram | undefined {
  const loc = newUdpLocation();
  return (f) => {
    const kind = decodeFrame(f.linkType, f.data, loc);
    switch (kind) {
      case FrameKind.UDP: {
        stats.udp++;
        const d = f.data;
        const a = loc.addrOffset;
        const v4 = loc.ipVersion === 4;
        return {
          tsMs: f.tsMs,
          src: v4 ? formatIpv4(d, a) : formatIpv6(d, a),
          srcPort: loc.srcPort,
          dst: v4 ? formatIpv4(d, a + 4) : formatIpv6(d, a + 16),
          dstPort: loc.dstPort,
          payload: d.subarray(loc.payloadStart, loc.payloadEnd),
          index: f.index,
        };
      }
      case FrameKind.NON_UDP:
        stats.skippedNonUdp++;
        return undefined;
      case FrameKind.TRUNCATED:
        stats.truncated++;
        return undefined;
      case FrameKind.FRAGMENT:
        stats.fragments++;
        return undefined;
      case FrameKind.MALFORMED:
        stats.malformed++;
        return undefined;
      case FrameKind.UNSUPPORTED_LINK:
        stats.unsupportedLinkType++;
        return undefined;
    }
  };
}

/** The UDP datagrams of a capture (IPv4/IPv6, any supported link type); other frames are counted. */
export function readUdp(source: PcapSource, opts: ReadOptions = {}): AsyncReader<UdpDatagram> {
  const parser = new PcapParser(opts);
  const decode = makeUdpDecoder(parser.stats);
  const claim = once();
  return {
    stats: parser.stats,
    async *[Symbol.asyncIterator]() {
      claim();
      for await (const f of driveAsync(parser, source, opts.chunkSize ?? DEFAULT_CHUNK)) {
        const d = decode(f);
        if (d) yield d;
      }
    },
  };
}

/** The UDP datagrams of an in-memory capture. */
export function readUdpSync(source: Uint8Array, opts: ParseOptions = {}): SyncReader<UdpDatagram> {
  const parser = new PcapParser(opts);
  const decode = makeUdpDecoder(parser.stats);
  const claim = once();
  return {
    stats: parser.stats,
    *[Symbol.iterator]() {
      claim();
      for (const f of driveSync(parser, source)) {
        const d = decode(f);
        if (d) yield d;
      }
    },
  };
}

/** Reads every UDP datagram of a capture into memory (for tests and small files). */
export async function readAllUdp(source: PcapSource, opts: ReadOptions = {}): Promise<{ datagrams: UdpDatagram[]; stats: PcapStats }> {
  const r = readUdp(source, opts);
  const datagrams: UdpDatagram[] = [];
  for await (const d of r) datagrams.push(d);
  return { datagrams, stats: r.stats };
}
