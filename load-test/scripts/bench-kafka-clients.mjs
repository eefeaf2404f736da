#!/usr/bin/env node
// Side-by-side benchmark of kafkajs 2.2.4 and @platformatic/kafka 2.x against librdkafka's mock
// cluster (kafka-mock, the launcher from packages/testkit/native/kafka-mock.c).
//
//   npx node load-test/scripts/bench-kafka-clients.mjs   (Node >= 24.6; both clients are dependencies of
//   @haystack/transport; results recorded in load-test/RESULTS.md, "Kafka clients")
//
// Environment (all optional):
//   ROUNDS=3            rounds; every round runs every test for both clients, order alternating
//   PRODUCE_SECONDS=2.5 measured time per produce cell (after a warm-up)
//   MSGS_PER_CALL=16    batches per produce call (2 per partition, explicit partition) - like Haystack's sink
//   CONSUME_BATCHES=192 batches pre-filled per consume run (24 per partition, ~3.8 MiB/partition)
//   CONSUME_COMPRESSIONS=none,zstd
//   PIN=1               pin this process (all threads) to CPU 1 and the mock to CPU 0 with taskset
//   KAFKA_MOCK=./kafka-mock  (compiled from KAFKA_MOCK_SRC with `cc ... -lrdkafka` when missing)
//   ONLY=produce,consume,idempotent,rebalance,restart
//   JSON_OUT=file       also write raw samples as JSON
//
// Notes on fairness:
// - kafkajs 2.2.4 ships only gzip. Its lz4/zstd codec packages (kafkajs-lz4, @kafkajs/zstd) need native
//   builds that do not work on Node 24 here, so this script registers small codecs built on the same
//   primitives @platformatic/kafka uses: lz4 frame from @platformatic/wasm-utils (WASM, synchronous),
//   zstd from node:zlib (asynchronous, thread pool, like kafkajs' own gzip).
// - The librdkafka 2.0.x mock advertises ListOffsets v5 but encodes v4+ responses wrongly;
//   @platformatic/kafka picks the highest version and fails to parse them. The script caps
//   ListOffsets at v3 for @platformatic/kafka (kafkajs never goes above v3). Newer brokers are fine.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import kafkajsPkg from 'kafkajs';
import * as plt from '@platformatic/kafka';
import { lz4Compress, lz4Decompress } from '@platformatic/wasm-utils';

const { Kafka, logLevel, CompressionTypes, CompressionCodecs, Partitioners } = kafkajsPkg;
const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Configuration
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PRODUCE_SECONDS = Number(process.env.PRODUCE_SECONDS ?? 2.5);
const MSGS_PER_CALL = Number(process.env.MSGS_PER_CALL ?? 16);
const CONSUME_BATCHES = Number(process.env.CONSUME_BATCHES ?? 192);
const CONSUME_COMPRESSIONS = (process.env.CONSUME_COMPRESSIONS ?? 'none,zstd').split(',');
const ONLY = new Set((process.env.ONLY ?? 'produce,consume,idempotent,rebalance,restart').split(','));
const PIN = process.env.PIN !== '0';
const PARTITIONS = 8;
const COMPRESSIONS = ['none', 'gzip', 'lz4', 'zstd'];
const ACKS = [-1, 1];
const CLIENTS = ['kafkajs', 'platformatic'];
const GROUP_OPTS = {
  sessionTimeout: Number(process.env.SESSION_TIMEOUT ?? 10_000),
  rebalanceTimeout: Number(process.env.REBALANCE_TIMEOUT ?? 10_000),
  heartbeatInterval: Number(process.env.HEARTBEAT_INTERVAL ?? 500),
  maxWait: Number(process.env.MAX_WAIT ?? 500),
};
const HEADER_KEY = 'hs-batch-format';

const versions = {
  node: process.version,
  kafkajs: require('kafkajs/package.json').version,
  platformatic: JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@platformatic/kafka')), 'utf8')).version,
};

// ---------------------------------------------------------------------------------------------
// Mock cluster
function mockBinary() {
  const bin = process.env.KAFKA_MOCK ?? path.join(HERE, '..', '.cache', 'bin', 'kafka-mock');
  if (existsSync(bin)) return bin;
  const src = process.env.KAFKA_MOCK_SRC ?? path.join(HERE, '..', '..', 'packages', 'testkit', 'native', 'kafka-mock.c');
  mkdirSync(path.dirname(bin), { recursive: true });
  execFileSync('cc', ['-O2', '-o', bin, src, '-lrdkafka'], { stdio: 'inherit' });
  return bin;
}

const hasTaskset = PIN && os.availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;

async function startMock(topics) {
  const bin = mockBinary();
  const args = ['1', ...topics.map((t) => `${t}:${PARTITIONS}`)];
  const child = hasTaskset
    ? spawn('taskset', ['-c', '0', bin, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i).trim());
    });
    child.once('exit', (code) => reject(new Error(`kafka-mock exited with ${code}`)));
  });
  return {
    brokers: line.split(','),
    async stop() {
      child.stdin.end(); // EOF stops the mock
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Realistic-ish flow batches: 64-byte records, repeating IPv4 prefixes, ports, counters, timestamps.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const RAND = rng(42);
const SRC_PREFIXES = Array.from({ length: 16 }, () => [10, Math.floor(RAND() * 256), Math.floor(RAND() * 256)]);
const DST_PREFIXES = Array.from({ length: 64 }, () => [Math.floor(RAND() * 223) + 1, Math.floor(RAND() * 256), Math.floor(RAND() * 256)]);
const DPORTS = [443, 443, 443, 80, 53, 53, 123, 22, 8080, 993, 3306, 5432, 6379, 9092];
const ASNS = [15169, 16509, 8075, 13335, 32934, 20940, 3356, 1299, 174, 64512];
let flowTime = 1_760_000_000;

function makeBatch(bytes, r) {
  const n = Math.floor(bytes / 64);
  const b = Buffer.alloc(n * 64);
  for (let i = 0; i < n; i++) {
    const o = i * 64;
    if (r() < 0.05) flowTime++;
    const sp = SRC_PREFIXES[Math.floor(r() * r() * SRC_PREFIXES.length)];
    const dp = DST_PREFIXES[Math.floor(r() * r() * DST_PREFIXES.length)];
    const proto = r() < 0.8 ? 6 : r() < 0.9 ? 17 : 1;
    const packets = 1 + Math.floor(-Math.log(1 - r()) * 20);
    b.writeUInt32BE(flowTime, o); // start (s)
    b.writeUInt16BE(Math.floor(r() * 1000), o + 4); // start ms
    b.writeUInt16BE(Math.floor(r() * 60_000) & 0xffff, o + 6); // duration ms
    b[o + 8] = sp[0];
    b[o + 9] = sp[1];
    b[o + 10] = sp[2];
    b[o + 11] = Math.floor(r() * 256);
    b[o + 12] = dp[0];
    b[o + 13] = dp[1];
    b[o + 14] = dp[2];
    b[o + 15] = Math.floor(r() * 32);
    b.writeUInt16BE(32768 + Math.floor(r() * 28231), o + 16); // src port (ephemeral)
    b.writeUInt16BE(DPORTS[Math.floor(r() * DPORTS.length)], o + 18);
    b[o + 20] = proto;
    b[o + 21] = proto === 6 ? [0x18, 0x10, 0x02, 0x11, 0x1b][Math.floor(r() * 5)] : 0;
    b[o + 22] = r() < 0.9 ? 0 : 0xb8; // tos
    b.writeUInt32BE(packets, o + 24);
    b.writeUInt32BE(packets * (40 + Math.floor(r() * 1460)), o + 28); // bytes
    b.writeUInt16BE(1 + Math.floor(r() * 4), o + 32); // in ifindex
    b.writeUInt16BE(1 + Math.floor(r() * 4), o + 34); // out ifindex
    b.writeUInt32BE(ASNS[Math.floor(r() * ASNS.length)], o + 36);
    b.writeUInt32BE(ASNS[Math.floor(r() * ASNS.length)], o + 40);
    b.writeUInt32BE(0x0a000001 + Math.floor(r() * 4), o + 44); // exporter
    b.writeUInt32BE(i, o + 48); // sequence
    // 52..63: zero padding/reserved, as in a fixed-width record
  }
  return b;
}

const POOL_RAND = rng(7);
const POOL = Array.from({ length: 64 }, () => makeBatch((64 + Math.floor(POOL_RAND() * 193)) * 1024, POOL_RAND));
const POOL_BYTES = POOL.reduce((a, b) => a + b.length, 0);
const KEYS = Array.from({ length: PARTITIONS }, (_, p) => Buffer.from(String(p)));
let poolIndex = 0;
function nextMessages(count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push({ partition: i % PARTITIONS, value: POOL[poolIndex++ % POOL.length] });
  }
  return out;
}

// Reference compression ratios (same codecs and levels the clients use), over the pool.
function codecRatios() {
  const codecs = {
    gzip: (b) => zlib.gzipSync(b),
    lz4: (b) => lz4Compress(b),
    zstd: (b) => zlib.zstdCompressSync(b),
  };
  const ratios = {};
  for (const [name, fn] of Object.entries(codecs)) {
    let c = 0;
    for (const b of POOL) c += fn(b).length;
    ratios[name] = c / POOL_BYTES;
  }
  return ratios;
}

// ---------------------------------------------------------------------------------------------
// kafkajs codecs for lz4 / zstd (see the note at the top)
const zstdAsync = promisify(zlib.zstdCompress);
const unzstdAsync = promisify(zlib.zstdDecompress);
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress(encoder) {
    return lz4Compress(encoder.buffer);
  },
  async decompress(buffer) {
    return lz4Decompress(buffer);
  },
});
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress(encoder) {
    return zstdAsync(encoder.buffer);
  },
  async decompress(buffer) {
    return unzstdAsync(buffer);
  },
});
const KJS_COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };

// ---------------------------------------------------------------------------------------------
// @platformatic/kafka: cap ListOffsets at v3 for the librdkafka 2.0.x mock (see the note at the top).
// The idempotence test also tries InitProducerId capped at v2 (the mock answers v3/v4 with UNKNOWN_PRODUCER_ID).
const PLT_API_CAPS = { ListOffsets: 3 };
function findSymbol(obj, description) {
  for (let p = obj; p; p = Object.getPrototypeOf(p)) {
    for (const s of Object.getOwnPropertySymbols(p)) if (s.description === description) return [p, s];
  }
  throw new Error(`symbol ${description} not found`);
}
{
  const [proto, kListApis] = findSymbol(plt.Consumer.prototype, 'plt.kafka.base.listApis');
  const original = proto[kListApis];
  proto[kListApis] = function (callback) {
    return original.call(this, (error, apis) => {
      if (apis) for (const api of apis) if (PLT_API_CAPS[api.name] !== undefined) api.maxVersion = Math.min(api.maxVersion, PLT_API_CAPS[api.name]);
      callback(error, apis);
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Wire accounting: every socket created while a cell runs is counted (bytesWritten).
const sockets = new Set();
{
  const originalConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    sockets.add(this);
    return originalConnect.apply(this, args);
  };
}
function socketBytesWritten() {
  let n = 0;
  for (const s of sockets) n += s.bytesWritten ?? 0;
  return n;
}

const warnings = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message.split('\n')[0]}`));

// ---------------------------------------------------------------------------------------------
// Client adapters: same shape for both libraries.
let idSeq = 0;
const uid = (p) => `${p}-${process.pid}-${++idSeq}`;

function kjsClient(brokers) {
  return new Kafka({ clientId: uid('kjs'), brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

const adapters = {
  kafkajs: {
    async producer(brokers, { idempotent = false } = {}) {
      const p = kjsClient(brokers).producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent,
        ...(idempotent ? { maxInFlightRequests: 1 } : {}),
      });
      await p.connect();
      const headers = { [HEADER_KEY]: '1' };
      return {
        send: (topic, msgs, acks, compression) =>
          p.send({
            topic,
            acks,
            compression: KJS_COMPRESSION[compression],
            messages: msgs.map((m) => ({ partition: m.partition, key: KEYS[m.partition], value: m.value, headers })),
          }),
        close: () => p.disconnect(),
      };
    },
    // onMessage(m) -> 'commit' | 'stop-no-commit'; returns a handle with stop()
    async consumer(brokers, { topic, groupId, onMessage, onJoin }) {
      const c = kjsClient(brokers).consumer({
        groupId,
        sessionTimeout: GROUP_OPTS.sessionTimeout,
        rebalanceTimeout: GROUP_OPTS.rebalanceTimeout,
        heartbeatInterval: GROUP_OPTS.heartbeatInterval,
        maxWaitTimeInMs: GROUP_OPTS.maxWait,
        maxBytesPerPartition: 1_048_576 * 2,
        allowAutoTopicCreation: false,
      });
      let stopping = false;
      let stopped;
      const stop = () =>
        (stopped ??= (async () => {
          stopping = true;
          await c.disconnect();
        })());
      c.on(c.events.GROUP_JOIN, (e) => onJoin?.({ memberId: e.payload.memberId, partitions: e.payload.memberAssignment[topic] ?? [] }));
      await c.connect();
      await c.subscribe({ topics: [topic], fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          for (const m of batch.messages) {
            if (stopping || !isRunning() || isStale()) break;
            const action = onMessage({ partition: batch.partition, offset: BigInt(m.offset), value: m.value });
            if (action === 'stop-no-commit') {
              stop();
              break;
            }
            await c.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(m.offset) + 1n).toString() }]);
            resolveOffset(m.offset);
            if (action === 'stop') {
              stop();
              break;
            }
            await heartbeat();
          }
        },
      });
      return { stop, done: () => stopped };
    },
  },
  platformatic: {
    async producer(brokers, { idempotent = false } = {}) {
      const p = new plt.Producer({
        clientId: uid('plt'),
        bootstrapBrokers: brokers,
        autocreateTopics: false,
        retries: 3,
        idempotent,
      });
      const headers = new Map([[Buffer.from(HEADER_KEY), Buffer.from('1')]]);
      return {
        send: (topic, msgs, acks, compression) =>
          p.send({
            acks,
            compression,
            messages: msgs.map((m) => ({ topic, partition: m.partition, key: KEYS[m.partition], value: m.value, headers })),
          }),
        close: () => p.close(true),
      };
    },
    async consumer(brokers, { topic, groupId, onMessage, onJoin }) {
      const c = new plt.Consumer({
        clientId: uid('plt'),
        groupId,
        bootstrapBrokers: brokers,
        autocommit: false,
        sessionTimeout: GROUP_OPTS.sessionTimeout,
        rebalanceTimeout: GROUP_OPTS.rebalanceTimeout,
        heartbeatInterval: GROUP_OPTS.heartbeatInterval,
        maxWaitTime: GROUP_OPTS.maxWait,
        maxBytesPerPartition: 1_048_576 * 2,
        maxBytes: 1_048_576 * 16,
      });
      c.on('consumer:group:join', (e) =>
        onJoin?.({
          memberId: e.memberId,
          partitions: (e.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions),
        }),
      );
      const stream = await c.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
      let stopped;
      const stop = () =>
        (stopped ??= (async () => {
          await stream.close();
          await c.close();
        })());
      const loop = (async () => {
        for await (const m of stream) {
          const action = onMessage({ partition: m.partition, offset: m.offset, value: m.value });
          if (action === 'stop-no-commit') break;
          await m.commit();
          if (action === 'stop') break;
        }
      })();
      loop.then(stop, (e) => {
        console.error('platformatic stream error:', e.message);
        stop();
      });
      return { stop, done: () => stopped ?? stop() };
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Helpers
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}; // ms
const withTimeout = (p, ms, what) =>
  Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`${what}: timed out after ${ms} ms`);
    }),
  ]);
const processValue = (v) => v.readUInt32BE(0) ^ v.readUInt32BE(v.length - 16) ^ v.length; // "processing"
function orderFor(round) {
  return round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
}

const samples = []; // { test, client, cell, round, ...metrics }
function record(s) {
  samples.push(s);
  if (process.env.VERBOSE) console.error(JSON.stringify(s, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
}

// ---------------------------------------------------------------------------------------------
// 1. Produce
async function produceCell(brokers, client, round, acks, compression, idempotent = false) {
  const topic = `produce-${client}`;
  const p = await adapters[client].producer(brokers, { idempotent });
  for (let i = 0; i < 3; i++) await p.send(topic, nextMessages(MSGS_PER_CALL), acks, compression); // warm-up
  const wire0 = socketBytesWritten();
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const cpu0 = cpuNow();
  const t0 = performance.now();
  let batches = 0;
  let bytes = 0;
  while (performance.now() - t0 < PRODUCE_SECONDS * 1000) {
    const msgs = nextMessages(MSGS_PER_CALL);
    await p.send(topic, msgs, acks, compression);
    batches += msgs.length;
    for (const m of msgs) bytes += m.value.length;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuNow() - cpu0;
  const wire = socketBytesWritten() - wire0;
  eld.disable();
  await p.close();
  sockets.clear();
  record({
    test: 'produce',
    client,
    round,
    cell: `acks=${acks} ${compression}${idempotent ? ' idempotent (InitProducerId v2)' : ''}`,
    batchesPerSec: batches / secs,
    mbPerSec: bytes / secs / 1e6,
    cpuMsPerBatch: cpu / batches,
    cpuPct: cpu / (secs * 10),
    wireRatio: wire / bytes,
    loopDelayP99Ms: eld.percentile(99) / 1e6,
    loopDelayMaxMs: eld.max / 1e6,
  });
}

// 2. Consume (consumer group, manual commit after every batch)
async function prefill(brokers, topic, count, compression, valueSize) {
  const p = await adapters.platformatic.producer(brokers);
  for (let sent = 0; sent < count; sent += MSGS_PER_CALL) {
    let msgs = nextMessages(Math.min(MSGS_PER_CALL, count - sent));
    if (valueSize) msgs = msgs.map((m) => ({ ...m, value: m.value.subarray(0, valueSize) }));
    await p.send(topic, msgs, -1, compression);
  }
  await p.close();
  sockets.clear();
}

async function consumeRun(brokers, client, round, compression) {
  const topic = `consume-${compression}-${client}-${round}`;
  await prefill(brokers, topic, CONSUME_BATCHES, compression);
  let n = 0;
  let bytes = 0;
  let first, cpu0, last, cpuLast;
  const tStart = performance.now();
  let resolveDone;
  const done = new Promise((resolve) => {
    resolveDone = resolve;
  });
  const h = await adapters[client].consumer(brokers, {
    topic,
    groupId: uid('g'),
    onMessage: (m) => {
      if (n === 0) {
        first = performance.now();
        cpu0 = cpuNow();
      }
      processValue(m.value);
      n++;
      bytes += m.value.length;
      if (n === CONSUME_BATCHES) {
        last = performance.now();
        cpuLast = cpuNow();
        resolveDone();
        return 'stop';
      }
      return 'commit';
    },
  });
  await withTimeout(done, 60_000, `${client} consume`);
  await h.stop();
  // first message excluded from rate (its time is join + first fetch)
  const secs = (last - first) / 1000;
  record({
    test: 'consume',
    client,
    round,
    cell: compression,
    batchesPerSec: (n - 1) / secs,
    mbPerSec: bytes / secs / 1e6,
    cpuMsPerBatch: (cpuLast - cpu0) / (n - 1),
    firstMsgMs: first - tStart,
  });
}

// 3. Idempotent producer
async function idempotentRun(brokers, client) {
  const topic = `idem-${client}`;
  let p;
  try {
    p = await withTimeout(adapters[client].producer(brokers, { idempotent: true }), 15_000, 'connect');
    await withTimeout(
      p.send(
        topic,
        nextMessages(8).map((m) => ({ ...m, value: m.value.subarray(0, 1024) })),
        -1,
        'none',
      ),
      15_000,
      'send',
    );
    await withTimeout(
      p.send(
        topic,
        nextMessages(8).map((m) => ({ ...m, value: m.value.subarray(0, 1024) })),
        -1,
        'lz4',
      ),
      15_000,
      'send 2',
    );
    return { ok: true, detail: '2 sends x 8 partitions ok (acks=-1; none, then lz4)' };
  } catch (e) {
    const inner = (e.errors ?? [])
      .map((x) => x.message)
      .slice(0, 2)
      .join('; ');
    return { ok: false, detail: `${e.name}: ${e.message}${inner ? ` [${inner}]` : ''}` };
  } finally {
    await p?.close().catch(() => {});
  }
}

// 4a. Rebalance: a second member joins a group that is consuming a live stream
async function rebalanceRun(brokers, client, round) {
  const topic = `rebalance-${client}-${round}`;
  const groupId = uid('g');
  const producer = await adapters.platformatic.producer(brokers);
  let producing = true;
  const feeder = (async () => {
    while (producing) {
      await producer.send(
        topic,
        nextMessages(PARTITIONS).map((m) => ({ ...m, value: m.value.subarray(0, 16 * 1024) })),
        1,
        'none',
      );
      await sleep(50);
    }
  })();
  const seenA = new Set();
  let aReady;
  const aReadyP = new Promise((resolve) => {
    aReady = resolve;
  });
  let t0 = null;
  let tJoinA = null;
  let tJoinB = null;
  let tMsgA = null;
  let tMsgB = null;
  let partsA = [];
  let partsB = [];
  const A = await adapters[client].consumer(brokers, {
    topic,
    groupId,
    onJoin: (j) => {
      partsA = j.partitions;
      if (t0 !== null && tJoinA === null) tJoinA = performance.now();
    },
    onMessage: (m) => {
      seenA.add(m.partition);
      if (seenA.size === PARTITIONS) aReady();
      if (tJoinA !== null && tMsgA === null) tMsgA = performance.now();
      return 'commit';
    },
  });
  await withTimeout(aReadyP, 30_000, 'consumer A start');
  await sleep(300);
  t0 = performance.now();
  const B = await adapters[client].consumer(brokers, {
    topic,
    groupId,
    onJoin: (j) => {
      partsB = j.partitions;
      if (tJoinB === null) tJoinB = performance.now();
    },
    onMessage: () => {
      if (tMsgB === null) tMsgB = performance.now();
      return 'commit';
    },
  });
  const deadline = performance.now() + 40_000;
  while ((tMsgA === null || tMsgB === null) && performance.now() < deadline) await sleep(10);
  producing = false;
  await feeder;
  await Promise.all([A.stop(), B.stop()]);
  await producer.close();
  sockets.clear();
  const both = tMsgA !== null && tMsgB !== null ? Math.max(tMsgA, tMsgB) - t0 : NaN;
  record({
    test: 'rebalance',
    client,
    round,
    cell: 'join',
    bothConsumingMs: both,
    bJoinMs: tJoinB - t0,
    aRejoinMs: tJoinA - t0,
    bFirstMsgMs: tMsgB - t0,
    split: `${partsA.length}/${partsB.length}`,
  });
}

// 4b. Restart: A stops cleanly after processing K batches (the K-th not committed); B resumes.
async function restartRun(brokers, client, round) {
  const topic = `restart-${client}-${round}`;
  const groupId = uid('g');
  const N = 160;
  const K = 80;
  await prefill(brokers, topic, N, 'none', 32 * 1024);
  const seenA = new Map();
  let committedA = 0;
  let resolveA;
  const aDone = new Promise((resolve) => {
    resolveA = resolve;
  });
  const A = await adapters[client].consumer(brokers, {
    topic,
    groupId,
    onMessage: (m) => {
      const key = `${m.partition}:${m.offset}`;
      seenA.set(key, (seenA.get(key) ?? 0) + 1);
      if (seenA.size === K) {
        resolveA();
        return 'stop-no-commit';
      }
      committedA++; // committed right after this returns (awaited before the next message)
      return 'commit';
    },
  });
  await withTimeout(aDone, 30_000, 'A');
  const tc0 = performance.now();
  await withTimeout(A.done(), 30_000, 'A close');
  const closeMs = performance.now() - tc0;
  const seenB = new Map();
  let resolveB;
  const bDone = new Promise((resolve) => {
    resolveB = resolve;
  });
  const tb0 = performance.now();
  let bFirst = null;
  const B = await adapters[client].consumer(brokers, {
    topic,
    groupId,
    onMessage: (m) => {
      if (bFirst === null) bFirst = performance.now() - tb0;
      const key = `${m.partition}:${m.offset}`;
      seenB.set(key, (seenB.get(key) ?? 0) + 1);
      const union = new Set([...seenA.keys(), ...seenB.keys()]);
      if (union.size === N) resolveB();
      return 'commit';
    },
  });
  await withTimeout(bDone, 30_000, 'B').catch(() => {});
  await sleep(GROUP_OPTS.maxWait + 200); // let late duplicates show up
  await B.stop();
  sockets.clear();
  const union = new Set([...seenA.keys(), ...seenB.keys()]);
  let dups = 0;
  for (const k of seenB.keys()) if (seenA.has(k)) dups++;
  for (const v of [...seenA.values(), ...seenB.values()]) if (v > 1) dups += v - 1;
  record({
    test: 'restart',
    client,
    round,
    cell: `N=${N} stop after ${K}`,
    aProcessed: seenA.size,
    aCommitted: committedA,
    uncommitted: seenA.size - committedA,
    bProcessed: seenB.size,
    duplicates: dups,
    missing: N - union.size,
    closeMs,
    bFirstMsgMs: bFirst,
  });
}

// ---------------------------------------------------------------------------------------------
// Main
async function main() {
  if (hasTaskset) execFileSync('taskset', ['-a', '-c', '-p', '1', String(process.pid)], { stdio: 'ignore' });
  const topics = [];
  for (const c of CLIENTS) {
    topics.push(`produce-${c}`, `idem-${c}`);
    for (let r = 0; r < ROUNDS; r++) {
      for (const comp of CONSUME_COMPRESSIONS) topics.push(`consume-${comp}-${c}-${r}`);
      topics.push(`rebalance-${c}-${r}`, `restart-${c}-${r}`);
    }
  }
  const mock = await startMock(topics);
  const idem = {};
  const t0 = Date.now();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = orderFor(round);
      console.error(`round ${round + 1}/${ROUNDS} (order ${order.join(', ')}) ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      if (ONLY.has('produce')) {
        for (const acks of ACKS) for (const comp of COMPRESSIONS) for (const c of order) await produceCell(mock.brokers, c, round, acks, comp);
      }
      if (ONLY.has('consume')) for (const comp of CONSUME_COMPRESSIONS) for (const c of order) await consumeRun(mock.brokers, c, round, comp);
      if (ONLY.has('rebalance')) for (const c of order) await rebalanceRun(mock.brokers, c, round);
      if (ONLY.has('restart')) for (const c of order) await restartRun(mock.brokers, c, round);
    }
    if (ONLY.has('idempotent')) {
      for (const c of CLIENTS) idem[c] = await idempotentRun(mock.brokers, c);
      PLT_API_CAPS.InitProducerId = 2;
      idem['platformatic, InitProducerId capped at v2'] = await idempotentRun(mock.brokers, 'platformatic');
      if (idem['platformatic, InitProducerId capped at v2'].ok && ONLY.has('produce')) {
        for (let round = 0; round < ROUNDS; round++) await produceCell(mock.brokers, 'platformatic', round, -1, 'none', true);
      }
      delete PLT_API_CAPS.InitProducerId;
    }
  } finally {
    await mock.stop();
  }
  report(idem, (Date.now() - t0) / 1000);
}

function summarize(test, metric, fmt = (v) => v.toFixed(1)) {
  const cells = [...new Set(samples.filter((s) => s.test === test).map((s) => s.cell))];
  const rows = [];
  for (const cell of cells) {
    const row = [cell];
    for (const c of CLIENTS) {
      const v = samples
        .filter((s) => s.test === test && s.cell === cell && s.client === c)
        .map((s) => s[metric])
        .filter(Number.isFinite);
      row.push(v.length ? `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))}, n=${v.length})` : 'n/a');
    }
    rows.push(row);
  }
  return rows;
}

function table(title, header, rows) {
  const lines = [`\n### ${title}\n`, `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function report(idem, seconds) {
  const H = ['cell', `kafkajs ${versions.kafkajs}`, `@platformatic/kafka ${versions.platformatic}`];
  const out = [];
  out.push(`## Kafka client comparison (Node ${versions.node}, librdkafka mock, 1 broker, ${PARTITIONS} partitions, ${ROUNDS} rounds, pinned=${hasTaskset})`);
  out.push(
    `\nmedian (min–max, n) over rounds. Batches are ${(POOL_BYTES / POOL.length / 1024).toFixed(0)} KiB on average (64–256 KiB of 64-byte flow records), ${MSGS_PER_CALL} per produce call (explicit partition, key, 1 header), one call in flight.`,
  );
  const r = codecRatios();
  out.push(
    `Reference codec ratios over the batch pool (compressed/raw): gzip ${(r.gzip * 100).toFixed(1)} %, lz4 ${(r.lz4 * 100).toFixed(1)} %, zstd ${(r.zstd * 100).toFixed(1)} %.`,
  );
  if (ONLY.has('produce')) {
    out.push(table('Produce: batches/s', H, summarize('produce', 'batchesPerSec')));
    out.push(table('Produce: MB/s (uncompressed value bytes)', H, summarize('produce', 'mbPerSec')));
    out.push(
      table(
        'Produce: CPU ms per batch (process.cpuUsage user+sys)',
        H,
        summarize('produce', 'cpuMsPerBatch', (v) => v.toFixed(3)),
      ),
    );
    out.push(
      table(
        'Produce: bytes on the wire / value bytes',
        H,
        summarize('produce', 'wireRatio', (v) => (v * 100).toFixed(1) + ' %'),
      ),
    );
    out.push(table('Produce: event-loop delay p99 ms (blocking of the main thread while producing)', H, summarize('produce', 'loopDelayP99Ms')));
    out.push(table('Produce: event-loop delay max ms', H, summarize('produce', 'loopDelayMaxMs')));
  }
  if (ONLY.has('consume')) {
    out.push(table(`Consume (group, await commit after every batch, ${CONSUME_BATCHES} batches): batches/s`, H, summarize('consume', 'batchesPerSec')));
    out.push(table('Consume: MB/s', H, summarize('consume', 'mbPerSec')));
    out.push(
      table(
        'Consume: CPU ms per batch',
        H,
        summarize('consume', 'cpuMsPerBatch', (v) => v.toFixed(3)),
      ),
    );
    out.push(
      table(
        'Consume: ms from consumer creation to first batch (join + first fetch)',
        H,
        summarize('consume', 'firstMsgMs', (v) => v.toFixed(0)),
      ),
    );
  }
  if (ONLY.has('rebalance')) {
    out.push(
      table(
        'Rebalance: ms from second member start until both consume',
        H,
        summarize('rebalance', 'bothConsumingMs', (v) => v.toFixed(0)),
      ),
    );
    out.push(
      table('Rebalance: ms until B joined / A rejoined / B first batch', H, [
        ['B joined', ...summarize('rebalance', 'bJoinMs', (v) => v.toFixed(0))[0].slice(1)],
        ['A rejoined', ...summarize('rebalance', 'aRejoinMs', (v) => v.toFixed(0))[0].slice(1)],
        ['B first batch', ...summarize('rebalance', 'bFirstMsgMs', (v) => v.toFixed(0))[0].slice(1)],
        ['split A/B (last round)', ...CLIENTS.map((c) => samples.filter((s) => s.test === 'rebalance' && s.client === c).at(-1)?.split ?? 'n/a')],
      ]),
    );
  }
  if (ONLY.has('restart')) {
    const rows = [];
    for (const c of CLIENTS) {
      for (const s of samples.filter((x) => x.test === 'restart' && x.client === c)) {
        rows.push([
          c,
          s.round + 1,
          s.aProcessed,
          s.aCommitted,
          s.uncommitted,
          s.bProcessed,
          s.duplicates,
          s.missing,
          s.closeMs.toFixed(0),
          s.bFirstMsgMs?.toFixed(0),
        ]);
      }
    }
    out.push(
      table(
        'Restart: A processes 80 of 160 (80th not committed), clean close; B resumes from committed offsets',
        ['client', 'round', 'A processed', 'A committed', 'uncommitted', 'B processed', 'duplicates', 'missing', 'A close ms', 'B first batch ms'],
        rows,
      ),
    );
  }
  if (ONLY.has('idempotent')) {
    out.push(
      table(
        'Idempotent producer against the mock',
        ['client', 'works', 'detail'],
        Object.keys(idem).map((c) => [c, idem[c]?.ok ? 'yes' : 'no', (idem[c]?.detail ?? '').replaceAll('|', '/').slice(0, 240)]),
      ),
    );
  }
  const w = [...new Set(warnings)];
  out.push(
    `\nProcess warnings seen: ${w.length ? w.map((x) => `\`${x}\` ×${warnings.filter((y) => y === x).length}`).join(', ') : 'none'}. Total time ${seconds.toFixed(0)} s.`,
  );
  console.log(out.join('\n'));
  if (process.env.JSON_OUT)
    writeFileSync(
      process.env.JSON_OUT,
      JSON.stringify({ versions, samples, idem, warnings }, (k, v) => (typeof v === 'bigint' ? String(v) : v), 2),
    );
}

await main();
// kafkajs and @platformatic/kafka may leave timers behind after close; the run is over.
process.exit(0);
