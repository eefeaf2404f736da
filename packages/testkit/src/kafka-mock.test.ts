import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { startKafkaMock, mockKafkaClient, KafkaMockError } from './kafka-mock.js';

function canConnect(hostPort: string): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = createConnection({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('mock cluster: brokers on 127.0.0.1 with the requested topics, gone after stop()', async (t) => {
  const mock = await startKafkaMock({
    brokers: 3,
    topics: [
      { name: 'a', partitions: 3 },
      { name: 'b.c-d_e', partitions: 1 },
    ],
  });
  t.after(() => mock.stop());
  assert.equal(mock.bootstrap.length, 3);
  for (const b of mock.bootstrap) assert.match(b, /^127\.0\.0\.1:\d+$/);

  const admin = mockKafkaClient(mock).admin();
  await admin.connect();
  try {
    assert.deepEqual((await admin.listTopics()).sort(), ['a', 'b.c-d_e']);
    const md = await admin.fetchTopicMetadata({ topics: ['a', 'b.c-d_e'] });
    const counts = Object.fromEntries(md.topics.map((t) => [t.name, t.partitions.length]));
    assert.deepEqual(counts, { a: 3, 'b.c-d_e': 1 });
  } finally {
    await admin.disconnect();
  }

  await mock.stop();
  await mock.stop(); // idempotent
  assert.equal(await canConnect(mock.bootstrap[0]!), false);
  await assert.rejects(mock.command('down 1'), KafkaMockError);
});

test('mock cluster: fault-injection commands are applied or refused clearly', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 't', partitions: 1 }] });
  t.after(() => mock.stop());
  await mock.command('down 1');
  assert.equal(await canConnect(mock.bootstrap[0]!), false);
  await mock.command('up 1');
  assert.equal(await canConnect(mock.bootstrap[0]!), true);
  await mock.command('errors 0 6,7');
  await assert.rejects(mock.command('down 7'), /Broker not available|failed/);
  await assert.rejects(mock.command('explode'), /unknown command/);
  await assert.rejects(mock.command('errors 0 six'), /bad error code/);
  await assert.rejects(mock.command('up 1\ndown 1'), /one line/);
});

test('mock cluster: bad arguments are refused before anything starts', async () => {
  await assert.rejects(startKafkaMock({ brokers: 0, topics: [] }), /brokers must be 1\.\.64/);
  await assert.rejects(startKafkaMock({ topics: [{ name: 'x:y', partitions: 1 }] }), /bad mock topic/);
  await assert.rejects(startKafkaMock({ topics: [{ name: 'x', partitions: 0 }] }), /bad mock topic/);
});

test('mock cluster: a missing compiler gives a clear error, not a hang', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'haystack-testkit-'));
  const saved = { cache: process.env.HAYSTACK_TESTKIT_CACHE, cc: process.env.CC };
  t.after(() => {
    if (saved.cache === undefined) delete process.env.HAYSTACK_TESTKIT_CACHE;
    else process.env.HAYSTACK_TESTKIT_CACHE = saved.cache;
    if (saved.cc === undefined) delete process.env.CC;
    else process.env.CC = saved.cc;
    rmSync(dir, { recursive: true, force: true });
  });
  process.env.HAYSTACK_TESTKIT_CACHE = dir; // empty cache: forces a build
  process.env.CC = join(dir, 'no-such-cc');
  await assert.rejects(startKafkaMock({ topics: [] }), /no C compiler .*no-such-cc/);
});
