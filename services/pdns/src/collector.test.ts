import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@haystack/common';
import { CONTROL, DNSTAP_CONTENT_TYPE, controlFrame, dataFrame, encodeDnstapResponse, encodeDnsResponse, MESSAGE_TYPE, type PdnsTuple } from '@haystack/pdns';
import { startUnbound, dnstapLdnsAnswers, type Unbound } from '@haystack/testkit/unbound';
import { PdnsCollector, type TupleSink } from './collector.js';

/** Keeps what the collector flushes. */
class ListSink implements TupleSink {
  windows: { tuples: readonly PdnsTuple[]; source: string }[] = [];
  async write(tuples: readonly PdnsTuple[], source: string): Promise<number> {
    this.windows.push({ tuples, source });
    return tuples.length;
  }
  get tuples(): PdnsTuple[] {
    return this.windows.flatMap((w) => w.tuples);
  }
}

const LOCAL = [
  'cam.acme.com. 300 IN A 198.51.100.1',
  'cam.acme.com. 300 IN AAAA 2001:db8:ac::1',
  'cdn.acme.com. 300 IN A 198.51.100.2',
  'alias.acme.com. 300 IN CNAME cam.acme.com.',
  'www.example.org. 300 IN A 203.0.113.9',
];
const ZONES = ['acme.com.', 'example.org.'];

function collector(sink: TupleSink, maxFrameBytes = 65536): PdnsCollector {
  return new PdnsCollector({ sink, log: silentLogger, maxTuples: 100_000, flushIntervalMs: 3_600_000, maxFrameBytes, collectorId: 'test' });
}

async function until(what: string, ok: () => boolean, ms = 8000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.on('error', reject);
  });
}

const key = (t: PdnsTuple) => `${t.name} ${t.type} ${t.data}`;

test('two real unbound resolvers (Unix socket and TCP) and four misbehaving ones: answers kept, each fault counted', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-pdns-'));
  const sink = new ListSink();
  const c = collector(sink);
  const sock = join(dir, 'dnstap.sock');
  const where = await c.listen({ unixSocket: sock, tcp: { host: '127.0.0.1', port: 0 } });
  let a: Unbound | undefined;
  let b: Unbound | undefined;
  try {
    a = await startUnbound({ dnstap: { unixSocket: sock }, localData: LOCAL, zones: ZONES });
    b = await startUnbound({ dnstap: { tcp: `127.0.0.1@${where.tcp!.port}` }, localData: LOCAL, zones: ZONES });
    // Misbehaving peers, alongside the resolvers.
    const wrong = await open(sock);
    wrong.write(controlFrame(CONTROL.READY, 'protobuf:other.Thing'));
    const garbage = await open(sock);
    garbage.write(Buffer.from('00000000ffffffff0000000400000001', 'hex'));
    const cut = await open(sock);
    cut.write(Buffer.concat([controlFrame(CONTROL.READY, DNSTAP_CONTENT_TYPE), controlFrame(CONTROL.START, DNSTAP_CONTENT_TYPE)]));
    const now = Date.now();
    const valid = dataFrame(
      encodeDnstapResponse(
        MESSAGE_TYPE.CLIENT_RESPONSE,
        now,
        encodeDnsResponse('kept.example.net', 'A', [{ name: 'kept.example.net', type: 'A', data: '192.0.2.77' }]),
      ),
    );
    cut.write(valid);
    cut.write(valid.subarray(0, 20)); // then gone, mid-frame
    const huge = await open(sock);
    huge.write(Buffer.concat([controlFrame(CONTROL.READY, DNSTAP_CONTENT_TYPE), controlFrame(CONTROL.START, DNSTAP_CONTENT_TYPE)]));
    const big = Buffer.alloc(200_000);
    big.writeUInt32BE(big.length - 4, 0);
    huge.write(big); // a frame over the limit: skipped by its length
    huge.write(
      dataFrame(
        encodeDnstapResponse(
          MESSAGE_TYPE.CLIENT_RESPONSE,
          now,
          encodeDnsResponse('after.example.net', 'A', [{ name: 'after.example.net', type: 'A', data: '192.0.2.78' }]),
        ),
      ),
    );
    huge.write(dataFrame(Buffer.from('not protobuf at all')));
    await sleep(200);
    cut.destroy();

    for (const r of [a, b]) {
      assert.equal(await r.query('cam.acme.com', 'A'), '198.51.100.1');
      await r.query('cam.acme.com', 'AAAA');
      await r.query('cdn.acme.com', 'A');
      await r.query('alias.acme.com', 'A');
      await r.query('www.example.org', 'A');
      await r.query('missing.acme.com', 'A'); // NXDOMAIN: a response, no answer
    }
    // Per resolver its readiness probe (localhost) and six queries, the NXDOMAIN last; plus the two
    // valid frames of the hand-made peers. unbound sends on a timer: wait for all of them.
    await until('responses', () => c.counters.responses >= 16 && c.counters.errorResponses >= 2);
    await until('resolvers connected', () => c.resolversConnected >= 2);
    huge.end(controlFrame(CONTROL.STOP));
    wrong.destroy();
    garbage.destroy();
  } finally {
    await a?.stop();
    await b?.stop();
    await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const k = c.counters;
  assert.equal(k.wrongContentType, 1);
  assert.equal(k.protocolErrors, 1);
  assert.equal(k.cutMidFrame, 1);
  assert.equal(k.oversized, 1);
  assert.equal(k.malformed, 1, 'the frame that is not protobuf');
  assert.equal(k.errorResponses, 2, 'NXDOMAIN from each resolver');
  const got = new Map<string, PdnsTuple>();
  for (const t of sink.tuples) got.set(key(t), t);
  for (const want of [
    'cam.acme.com A 198.51.100.1',
    'cam.acme.com AAAA 2001:db8:ac::1',
    'cdn.acme.com A 198.51.100.2',
    'alias.acme.com CNAME cam.acme.com',
    'www.example.org A 203.0.113.9',
  ])
    assert.equal(got.get(want)?.count, 2, `${want}: once from each resolver`);
  assert.ok(got.has('kept.example.net A 192.0.2.77'), 'a whole frame before a disconnect is kept');
  assert.ok(got.has('after.example.net A 192.0.2.78'), 'the frame after an oversized one is read');
  assert.equal(k.tuplesFlushed, sink.tuples.length);
  const day = new Date().toISOString().slice(0, 10);
  assert.ok(sink.tuples.every((t) => t.day === day && t.first <= t.last));
});

test('an fstrm_capture file of unbound dnstap imports as dnstap-ldns reads it; the same file twice has one source', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-pdns-file-'));
  const sock = join(dir, 'cap.sock');
  const file = join(dir, 'capture.fstrm');
  const cap = spawn('fstrm_capture', ['-t', DNSTAP_CONTENT_TYPE, '-u', sock, '-w', file], { stdio: 'ignore' });
  const capExit = new Promise<void>((resolve, reject) => {
    cap.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('fstrm_capture not found (Debian: apt-get install fstrm-bin)') : e));
    cap.on('exit', () => resolve());
  });
  try {
    const { existsSync } = await import('node:fs');
    await until('fstrm_capture socket', () => existsSync(sock), 5000);
    const u = await startUnbound({ dnstap: { unixSocket: sock }, localData: LOCAL, zones: ZONES }).catch((e: unknown) => {
      cap.kill('SIGKILL');
      throw e;
    });
    for (const [n, t] of [
      ['cam.acme.com', 'A'],
      ['cam.acme.com', 'AAAA'],
      ['alias.acme.com', 'A'],
      ['www.example.org', 'A'],
      ['cdn.acme.com', 'A'],
    ] as const)
      await u.query(n, t);
    await sleep(1600); // unbound sends on a 1 s timer and drops its queue when stopped
    await u.stop();
    cap.kill('SIGTERM');
    await capExit;
    const ref = await dnstapLdnsAnswers(file);
    assert.equal(ref.responses, 6, 'five queries and the readiness probe (localhost)');
    const sink = new ListSink();
    const c = collector(sink);
    const r1 = await c.importFile(file);
    const r2 = await c.importFile(file);
    assert.equal(r1.responses, ref.responses);
    assert.equal(r1.source, r2.source, 'the same content, the same source: the store replaces, never adds');
    const mine = sink.windows
      .filter((w) => w.source.startsWith(r1.source))
      .slice(0, 1)
      .flatMap((w) => w.tuples.map(key));
    assert.deepEqual(mine.sort(), [...new Set(ref.answers)].sort());
  } finally {
    cap.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('storage failing: windows are kept and retried, an import that could not be stored fails; odd times and client addresses never reach a tuple', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hs-pdns-fail-'));
  try {
    let failures = 2;
    const stored: PdnsTuple[] = [];
    const sink: TupleSink = {
      async write(tuples) {
        if (failures-- > 0) throw new Error('storage down');
        stored.push(...tuples);
        return tuples.length;
      },
    };
    const lines: string[] = [];
    const log = {
      ...silentLogger,
      error: (...a: unknown[]) => lines.push(JSON.stringify(a)),
      warn: (...a: unknown[]) => lines.push(JSON.stringify(a)),
    } as typeof silentLogger;
    const c = new PdnsCollector({ sink, log, maxTuples: 100_000, flushIntervalMs: 3_600_000, maxFrameBytes: 65536, collectorId: 'test' });
    const file = join(dir, 'f.fstrm');
    const { DnstapFileWriter } = await import('@haystack/pdns');
    const w = DnstapFileWriter.create(file);
    await w.response(Date.UTC(2026, 10, 20, 8), 'a.example', 'A', [{ name: 'a.example', type: 'A', data: '192.0.2.1' }]);
    await w.close();
    // First try: the store fails (twice: the write and the drain's retry): the import says so.
    await assert.rejects(c.importFile(file), /storing its passive DNS failed/);
    // Storage back: the next drain writes what was kept, once.
    await c.drain();
    assert.deepEqual(
      stored.map((t) => `${t.name} ${t.data}`),
      ['a.example 192.0.2.1'],
    );
    assert.equal(c.counters.flushFailures, 2);
    assert.equal(c.counters.tuplesLost, 0);

    // A message from the year 33000 and one naming its client: arrival time used, the client nowhere.
    const sock = join(dir, 's.sock');
    await c.listen({ unixSocket: sock });
    const s = await open(sock);
    const client = Buffer.from([203, 0, 113, 99]);
    s.write(Buffer.concat([controlFrame(CONTROL.READY, DNSTAP_CONTENT_TYPE), controlFrame(CONTROL.START, DNSTAP_CONTENT_TYPE)]));
    s.write(
      dataFrame(
        encodeDnstapResponse(MESSAGE_TYPE.CLIENT_RESPONSE, 1e15, encodeDnsResponse('t.example', 'A', [{ name: 't.example', type: 'A', data: '192.0.2.2' }])),
      ),
    );
    s.write(
      dataFrame(
        encodeDnstapResponse(
          MESSAGE_TYPE.CLIENT_RESPONSE,
          Date.now(),
          encodeDnsResponse('c.example', 'A', [{ name: 'c.example', type: 'A', data: '192.0.2.3' }]),
          'r',
          client,
        ),
      ),
    );
    await until('two responses', () => c.counters.responses >= 3);
    s.end(controlFrame(CONTROL.STOP));
    await c.stop();
    assert.equal(c.counters.badTimes, 1);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(stored.find((t) => t.name === 't.example')?.day, today, 'an implausible time becomes the arrival time');
    const all = JSON.stringify(stored) + lines.join('\n');
    assert.ok(!all.includes('203.0.113.99'), 'the client address is in no tuple and no log line');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
