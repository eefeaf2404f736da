import { createReadStream } from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { contentId, type Logger } from '@haystack/common';
import {
  Aggregator,
  CONTROL,
  DNSTAP_CONTENT_TYPE,
  FrameReader,
  RESPONSE_TYPES,
  controlFrame,
  decodeDnstap,
  parseDnsMessage,
  LIVE_SOURCE,
  type PdnsTuple,
} from '@haystack/pdns';

/** Where flushed tuples go (the ClickHouse store; a list in tests). */
export interface TupleSink {
  write(tuples: readonly PdnsTuple[], source: string): Promise<number>;
  /** Delete what `source` wrote before (an imported file imported again). */
  forget?(source: string): Promise<void>;
}

/** What an operator needs to trust the passive DNS (exposed as Prometheus metrics). */
export interface PdnsCounters {
  /** Data frames received (sockets and files). */
  frames: number;
  /** Frames that decoded as dnstap messages. */
  messages: number;
  /** Of those, responses passive DNS is built from (resolver, client, forwarder responses). */
  responses: number;
  /** A, AAAA and CNAME answers aggregated. */
  answers: number;
  /** Frames that are not dnstap, and DNS responses that do not parse: counted, never a crash. */
  malformed: number;
  /** Responses with an error code (NXDOMAIN, SERVFAIL, ...): no answers to take. */
  errorResponses: number;
  /** Data frames above pdns.maxFrameBytes, skipped by their length. */
  oversized: number;
  /** Connections or files offering another content type than dnstap's. */
  wrongContentType: number;
  /** Broken Frame Streams (bad control frames, data before START): the connection is closed. */
  protocolErrors: number;
  /** Connections that ended inside a frame (what came before it was kept). */
  cutMidFrame: number;
  connections: number;
  tuplesFlushed: number;
  flushes: number;
  flushFailures: number;
  /** Tuples given up after repeated storage failures (the queue of unsaved windows is bounded). */
  tuplesLost: number;
  /** Messages whose time was implausible (before 2000, or more than a day ahead): arrival time used. */
  badTimes: number;
  /** Connections refused: pdns.maxConnections reached. */
  refusedConnections: number;
}

export interface PdnsCollectorOptions {
  sink: TupleSink;
  log: Logger;
  maxTuples: number;
  flushIntervalMs: number;
  maxFrameBytes: number;
  /** Names this collector in logs. Live windows are stored under source 'live' (they are disjoint in time and sum up). */
  collectorId: string;
}

export interface ImportResult {
  file: string;
  source: string;
  frames: number;
  responses: number;
  answers: number;
  malformed: number;
  tuples: number;
}

/** Windows waiting to be stored after a storage failure; beyond this the oldest is given up (counted). */
const MAX_PENDING_WINDOWS = 4;
/** Resolvers connected at once (each costs a read buffer). */
const MAX_CONNECTIONS = 1024;
const IDLE_TIMEOUT_MS = 15 * 60_000;
/** Earliest plausible dnstap time (2000-01-01). */
const MIN_TIME_MS = 946_684_800_000;

/**
 * The dnstap collector: Unix and TCP listeners speaking bidirectional Frame Streams with any
 * number of resolvers at once, and file import. Responses become per-day tuples in an
 * aggregator (bounded memory); windows are written to storage on size, on a timer and on stop.
 * A misbehaving resolver (wrong content type, garbage, a cut frame) is counted, logged once
 * per connection and disconnected; the others are served and nothing aggregated is lost.
 */
export class PdnsCollector {
  readonly counters: PdnsCounters = {
    frames: 0,
    messages: 0,
    responses: 0,
    answers: 0,
    malformed: 0,
    errorResponses: 0,
    oversized: 0,
    wrongContentType: 0,
    protocolErrors: 0,
    cutMidFrame: 0,
    connections: 0,
    tuplesFlushed: 0,
    flushes: 0,
    flushFailures: 0,
    tuplesLost: 0,
    badTimes: 0,
    refusedConnections: 0,
  };
  private readonly live: Aggregator;
  private readonly sockets = new Set<Socket>();
  private readonly servers: Server[] = [];
  private readonly pending: { tuples: PdnsTuple[]; source: string }[] = [];
  /** The window being written now: never given up while its write is in flight. */
  private inFlight: { tuples: PdnsTuple[]; source: string } | null = null;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private unixPath: string | null = null;
  /** Bound per call so the aggregator's callback needs no allocation per answer. */
  private target: Aggregator;
  private atMs = 0;
  private readonly onAnswer = (name: string, type: number, data: string) => this.target.add(name, type, data, this.atMs);

  constructor(private readonly o: PdnsCollectorOptions) {
    this.live = new Aggregator({ maxTuples: o.maxTuples, flush: (t) => this.enqueue(t, LIVE_SOURCE) });
    this.target = this.live;
  }

  /** Resolvers currently connected. */
  get resolversConnected(): number {
    return this.sockets.size;
  }

  /** Tuples held in memory (live window). */
  get tuplesHeld(): number {
    return this.live.size;
  }

  async listen(opts: {
    unixSocket?: string | null;
    tcp?: { host: string; port: number } | null;
  }): Promise<{ unixSocket: string | null; tcp: { host: string; port: number } | null }> {
    let tcp: { host: string; port: number } | null = null;
    if (opts.unixSocket) {
      // A socket file left by a crashed run would make listen fail with EADDRINUSE; anything
      // else at that path is not ours to delete.
      const st = await lstat(opts.unixSocket).catch(() => null);
      if (st?.isSocket()) await rm(opts.unixSocket, { force: true });
      else if (st) throw new PdnsInputError(`pdns.unixSocket ${opts.unixSocket} exists and is not a socket`);
      await this.serve((s) => s.listen(opts.unixSocket!));
      this.unixPath = opts.unixSocket;
    }
    if (opts.tcp) {
      const s = await this.serve((srv) => srv.listen(opts.tcp!.port, opts.tcp!.host));
      const a = s.address();
      tcp = typeof a === 'object' && a ? { host: a.address, port: a.port } : null;
    }
    this.timer = setInterval(() => this.live.flush('interval'), this.o.flushIntervalMs);
    this.timer.unref();
    return { unixSocket: this.unixPath, tcp };
  }

  private serve(bind: (s: Server) => void): Promise<Server> {
    return new Promise((resolve, reject) => {
      const srv = createServer((sock) => this.connection(sock));
      srv.once('error', reject);
      srv.once('listening', () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.o.log.error({ err }, 'pdns listener error'));
        this.servers.push(srv);
        resolve(srv);
      });
      bind(srv);
    });
  }

  private connection(sock: Socket): void {
    if (this.sockets.size >= MAX_CONNECTIONS) {
      this.counters.refusedConnections++;
      sock.destroy();
      return;
    }
    // A resolver sends at least every second while it has traffic; a peer silent this long is gone.
    sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
    this.counters.connections++;
    this.sockets.add(sock);
    const peer = sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : 'unix socket';
    let started = false;
    let failed = false;
    const fail = (what: string, counter: 'wrongContentType' | 'protocolErrors') => {
      if (failed) return;
      failed = true;
      this.counters[counter]++;
      this.o.log.warn({ resolver: peer, reason: what }, 'dnstap connection closed');
      sock.destroy();
    };
    const reader = new FrameReader(
      {
        data: (frame) => {
          if (!started) return fail('data frame before START', 'protocolErrors');
          this.frame(frame, this.live);
        },
        control: (type, types) => {
          if (type === CONTROL.READY) {
            if (types.length > 0 && !types.includes(DNSTAP_CONTENT_TYPE))
              return fail(`offers ${types.join(', ')}, not ${DNSTAP_CONTENT_TYPE}`, 'wrongContentType');
            sock.write(controlFrame(CONTROL.ACCEPT, DNSTAP_CONTENT_TYPE));
          } else if (type === CONTROL.START) {
            if (types.length > 0 && !types.includes(DNSTAP_CONTENT_TYPE))
              return fail(`starts ${types.join(', ')}, not ${DNSTAP_CONTENT_TYPE}`, 'wrongContentType');
            started = true;
          } else if (type === CONTROL.STOP) {
            started = false;
            sock.end(controlFrame(CONTROL.FINISH));
          }
        },
        oversized: () => this.counters.oversized++,
      },
      this.o.maxFrameBytes,
    );
    sock.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (reader.error) fail(reader.error, 'protocolErrors');
    });
    sock.on('error', () => {}); // resets are normal endings here; 'close' follows
    sock.on('close', () => {
      this.sockets.delete(sock);
      if (reader.pending > 0 && !failed) this.counters.cutMidFrame++;
    });
  }

  /** One dnstap frame into `agg`. */
  private frame(frame: Uint8Array, agg: Aggregator): void {
    const c = this.counters;
    c.frames++;
    let m;
    try {
      m = decodeDnstap(frame);
    } catch {
      c.malformed++;
      return;
    }
    c.messages++;
    if (!RESPONSE_TYPES.has(m.type) || !m.response) return;
    c.responses++;
    this.target = agg;
    // A resolver's clock, or a forged message, may say anything: outside [2000, now + 1 day] the
    // arrival time is used instead (counted), so no day falls outside what storage can hold.
    const now = Date.now();
    if (m.timeMs >= MIN_TIME_MS && m.timeMs <= now + 86_400_000) this.atMs = m.timeMs;
    else {
      c.badTimes++;
      this.atMs = now;
    }
    try {
      const r = parseDnsMessage(m.response, this.onAnswer);
      if (!r.ok || !r.response) c.malformed++;
      else if (r.rcode !== 0) c.errorResponses++;
      else c.answers += r.answers;
    } catch (err) {
      // A bug, not bad input (the parser never throws on bytes): counted, the connection goes on.
      c.malformed++;
      this.o.log.error({ err }, 'dnstap frame could not be processed');
    }
  }

  /**
   * Read a dnstap file (as fstrm_capture writes it). Its tuples are stored under the file's
   * content id: importing the same file again replaces them, it never counts twice.
   */
  async importFile(file: string): Promise<ImportResult> {
    const id = `file:${await contentId(file)}`;
    // Imported before? Its rows go first: a file counts once however often it is imported.
    await this.o.sink.forget?.(id);
    let tuples = 0;
    const agg = new Aggregator({
      maxTuples: this.o.maxTuples,
      flush: (t) => {
        tuples += t.length;
        this.enqueue(t, id);
      },
    });
    const before = { ...this.counters };
    let started = false;
    let sawControl = false;
    let error: string | null = null;
    const reader = new FrameReader(
      {
        data: (frame) => {
          if (!started) error ??= 'data before the START control frame: not an fstrm_capture file';
          else this.frame(frame, agg);
        },
        control: (type, types) => {
          sawControl = true;
          if (type === CONTROL.START) {
            if (types.length > 0 && !types.includes(DNSTAP_CONTENT_TYPE)) {
              this.counters.wrongContentType++;
              error ??= `content type ${types.join(', ')}, not ${DNSTAP_CONTENT_TYPE}`;
            } else started = true;
          } else if (type === CONTROL.STOP) started = false;
        },
        oversized: () => this.counters.oversized++,
      },
      this.o.maxFrameBytes,
    );
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
      reader.push(chunk as Buffer);
      if (reader.error || error) break;
    }
    const problem = reader.error ?? error ?? (sawControl ? null : 'no Frame Streams control frame: not a dnstap file');
    if (problem) throw new PdnsInputError(`${file}: ${problem}`);
    if (reader.pending > 0) {
      this.counters.cutMidFrame++;
      this.o.log.warn({ file, bytes: reader.pending }, 'dnstap file ends inside a frame (cut short?): what came before it is kept');
    }
    agg.flush('stop');
    await this.drain();
    if (this.unsaved(id) > 0) throw new PdnsInputError(`${file}: read, but storing its passive DNS failed (see the log); nothing of it is counted as stored`);
    const d = (k: keyof PdnsCounters) => this.counters[k] - before[k];
    return { file, source: id, frames: d('frames'), responses: d('responses'), answers: d('answers'), malformed: d('malformed'), tuples };
  }

  private enqueue(tuples: PdnsTuple[], source: string): void {
    this.pending.push({ tuples, source });
    // Bounded: while storage fails, the oldest waiting window (not the one being written) is given up, counted.
    while (this.pending.length > MAX_PENDING_WINDOWS) {
      const i = this.pending.findIndex((w) => w !== this.inFlight);
      const [lost] = this.pending.splice(i, 1);
      this.counters.tuplesLost += lost!.tuples.length;
      this.o.log.error({ tuples: lost!.tuples.length, source: lost!.source }, 'passive DNS window given up: storage keeps failing');
    }
    this.writing = this.writing.then(() => this.writePending());
  }

  private async writePending(): Promise<void> {
    while (this.pending.length) {
      const w = this.pending[0]!;
      this.inFlight = w;
      try {
        await this.o.sink.write(w.tuples, w.source);
        const i = this.pending.indexOf(w);
        if (i >= 0) this.pending.splice(i, 1);
        this.counters.tuplesFlushed += w.tuples.length;
        this.counters.flushes++;
      } catch (err) {
        this.counters.flushFailures++;
        this.o.log.error({ err, tuples: w.tuples.length }, 'could not store a passive DNS window; kept for the next flush');
        return;
      } finally {
        this.inFlight = null;
      }
    }
  }

  /** Windows of `source` not stored yet (after a drain: storage failed for them). */
  unsaved(source: string): number {
    return this.pending.filter((w) => w.source === source).length;
  }

  /** Write every window out (retrying the ones a failure kept). */
  async drain(): Promise<void> {
    this.writing = this.writing.then(() => this.writePending());
    await this.writing;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.live.flush('stop');
    await this.drain();
    if (this.unixPath) await rm(this.unixPath, { force: true });
  }
}

/** A dnstap input that is not one: one line for the operator. */
export class PdnsInputError extends Error {
  readonly userFacing = true;
  constructor(message: string) {
    super(message);
    this.name = 'PdnsInputError';
  }
}
