import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { batchReceiveAvailable, openUdpReceiver, type ReceiveMode, type UdpReceiver } from './index.js';

interface Got {
  address: string;
  body: string;
}

async function receiver(mode: ReceiveMode, address: string, port = 0, reusePort = false): Promise<{ r: UdpReceiver; got: Got[] }> {
  const got: Got[] = [];
  const r = await openUdpReceiver(
    {
      address,
      port,
      reusePort,
      receiveBufferBytes: 8 << 20,
      // Copied: in batch mode the bytes are reused by the next batch.
      onDatagram: (msg, from) => got.push({ address: from, body: msg.toString('latin1') }),
      onError: (err) => assert.fail(err),
    },
    mode,
  );
  return { r, got };
}

async function sendFrom(type: 'udp4' | 'udp6', from: string, to: string, port: number, bodies: Buffer[]): Promise<void> {
  const s = dgram.createSocket(type);
  await new Promise<void>((r) => s.bind(0, from, r));
  for (const b of bodies) await new Promise<void>((r, j) => s.send(b, port, to, (e) => (e ? j(e) : r())));
  s.close();
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Datagrams of many sizes, the largest a loopback IPv4 datagram can be. */
function bodies(tag: string, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const size = i === n - 1 ? 65_507 : 20 + ((i * 97) % 1500);
    const b = Buffer.alloc(size, 0x61 + (i % 26));
    b.write(`${tag}:${i}:`, 'latin1');
    return b;
  });
}

// The tests run where the project is built with gcc (Linux, .ci/run installs it): the addon must be there.
test('npm run build compiled the recvmmsg addon and it loads', () => {
  execFileSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' });
  assert.deepEqual(batchReceiveAvailable(), { available: true });
});

test('batch and dgram receive the same datagrams, bytes and source addresses, in order per exporter', async () => {
  const want = new Map<string, string[]>();
  const results: Record<string, Got[]> = {};
  for (const mode of ['batch', 'dgram'] as const) {
    const { r, got } = await receiver(mode, '127.0.0.1');
    assert.equal(r.mode, mode);
    assert.equal(r.family, 4);
    assert.ok(r.port > 0);
    // Three exporters at once, 300 datagrams each: far more than one batch of 64.
    const sets = ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((from) => ({ from, b: bodies(from, 300) }));
    for (const s of sets)
      want.set(
        s.from,
        s.b.map((x) => x.toString('latin1')),
      );
    await Promise.all(sets.map((s) => sendFrom('udp4', s.from, '127.0.0.1', r.port, s.b)));
    await until(() => got.length === 900);
    // Traffic thins after the burst (batch mode: back from the 1 ms timer to waiting on the socket).
    await new Promise((res) => setTimeout(res, 20));
    await sendFrom('udp4', '127.0.0.9', '127.0.0.1', r.port, [Buffer.from('after')]);
    await until(() => got.length === 901);
    assert.deepEqual(got[900], { address: '127.0.0.9', body: 'after' });
    await r.close();
    results[mode] = got.slice(0, 900);
  }
  for (const [mode, got] of Object.entries(results)) {
    for (const [from, w] of want)
      assert.deepEqual(
        got.filter((g) => g.address === from).map((g) => g.body),
        w,
        `${mode}: every datagram of ${from}, whole and in order`,
      );
  }
});

test('IPv6 and dual-stack sockets name sources as node:dgram does (IPv4-mapped on ::)', async () => {
  const seen: Record<string, string[]> = {};
  for (const mode of ['batch', 'dgram'] as const) {
    const { r, got } = await receiver(mode, '::');
    assert.equal(r.family, 6);
    await sendFrom('udp6', '::1', '::1', r.port, [Buffer.from('six')]);
    await sendFrom('udp4', '127.0.0.1', '127.0.0.1', r.port, [Buffer.from('four')]);
    await until(() => got.length === 2);
    await r.close();
    seen[mode] = got.map((g) => `${g.address} ${g.body}`).sort();
  }
  assert.deepEqual(seen.dgram, ['::1 six', '::ffff:127.0.0.1 four']);
  assert.deepEqual(seen.batch, seen.dgram);
});

test('a port in use is one error naming it; SO_REUSEPORT shares it; closing frees it', async () => {
  for (const mode of ['batch', 'dgram'] as const) {
    const { r: first } = await receiver(mode, '127.0.0.1');
    await assert.rejects(receiver(mode, '127.0.0.1', first.port), (e: Error & { code?: string; port?: number; address?: string }) => {
      assert.equal(e.code, 'EADDRINUSE', mode);
      assert.equal(e.port, first.port);
      assert.equal(e.address, '127.0.0.1');
      return true;
    });
    await first.close();
    const { r: a, got: gotA } = await receiver(mode, '127.0.0.1', first.port, true);
    const { r: b, got: gotB } = await receiver(mode, '127.0.0.1', first.port, true);
    // The kernel spreads exporters over the two; every datagram reaches one of them.
    await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].map((from) => sendFrom('udp4', from, '127.0.0.1', a.port, bodies(from, 20))));
    await until(() => gotA.length + gotB.length === 80);
    for (const got of [gotA, gotB])
      for (const from of new Set(got.map((g) => g.address))) assert.equal(got.filter((g) => g.address === from).length, 20, 'an exporter stays on one socket');
    await Promise.all([a.close(), b.close(), a.close()]);
  }
});

test('a worker thread ended abruptly releases its batch socket', async () => {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(new URL('./index.js', import.meta.url).href)}).then(async (m) => {
       const r = await m.openUdpReceiver({ address: '127.0.0.1', port: 0, reusePort: false, receiveBufferBytes: 1 << 20,
         onDatagram: () => parentPort.postMessage('datagram'), onError: () => {} }, 'batch');
       parentPort.postMessage(r.port);
     });`,
    { eval: true },
  );
  const [port] = (await once(w, 'message')) as [number];
  await sendFrom('udp4', '127.0.0.1', '127.0.0.1', port, [Buffer.from('x')]);
  assert.equal((await once(w, 'message'))[0], 'datagram', 'the worker receives on its own event loop');
  await w.terminate();
  const { r } = await receiver('batch', '127.0.0.1', port);
  assert.equal(r.port, port, 'the port is free again');
  await r.close();
});

test('a host name to bind is resolved by node:dgram under auto; batch refuses it in one line', async () => {
  const auto = await openUdpReceiver({ address: 'localhost', port: 0, reusePort: false, receiveBufferBytes: 1 << 20, onDatagram: () => {}, onError: () => {} });
  assert.equal(auto.mode, 'dgram');
  assert.ok(auto.port > 0);
  await auto.close();
  await assert.rejects(
    receiver('batch', 'localhost'),
    (e: Error & { code?: string }) => e.code === 'ERR_UDP_BATCH_UNAVAILABLE' && /IP addresses only/.test(e.message),
  );
});

test('slot memory given away by a consumer: the socket says so and closes, never writes there again', async () => {
  const errors: Error[] = [];
  let n = 0;
  const r = await openUdpReceiver(
    {
      address: '127.0.0.1',
      port: 0,
      reusePort: false,
      receiveBufferBytes: 1 << 20,
      onDatagram: (msg) => {
        // A misbehaving consumer transfers the shared memory away (detaching it here).
        if (n++ === 0) structuredClone(msg.buffer, { transfer: [msg.buffer as ArrayBuffer] });
      },
      onError: (e) => errors.push(e),
    },
    'batch',
  );
  await sendFrom('udp4', '127.0.0.1', '127.0.0.1', r.port, [Buffer.from('one')]);
  await until(() => n === 1);
  await sendFrom('udp4', '127.0.0.1', '127.0.0.1', r.port, [Buffer.from('two')]);
  await until(() => errors.length === 1);
  assert.match(errors[0]!.message, /EFAULT/);
  await r.close();
  await r.close();
  assert.equal(n, 1);
  const again = await receiver('batch', '127.0.0.1', r.port);
  await again.r.close();
});
