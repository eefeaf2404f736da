import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@haystack/common';
import { Lifecycle, type Component } from './lifecycle.js';

function recorder(log: string[], name: string, extra: Partial<Component> = {}): Component {
  return {
    name,
    async start() {
      log.push(`start ${name}`);
    },
    async stop() {
      log.push(`stop ${name}`);
    },
    ...extra,
  };
}

test('components start in order and stop in reverse, once', async () => {
  const log: string[] = [];
  const l = new Lifecycle(silentLogger).add(recorder(log, 'storage')).add(recorder(log, 'detector')).add(recorder(log, 'ingest'));
  await l.start();
  await Promise.all([l.stop(), l.stop()]);
  await l.stop();
  assert.deepEqual(log, ['start storage', 'start detector', 'start ingest', 'stop ingest', 'stop detector', 'stop storage']);
});

test('a failed start stops what had started, in reverse, and rethrows', async () => {
  const log: string[] = [];
  const l = new Lifecycle(silentLogger)
    .add(recorder(log, 'a'))
    .add(recorder(log, 'b'))
    .add(recorder(log, 'c', { start: () => Promise.reject(new Error('port in use')) }))
    .add(recorder(log, 'd'));
  await assert.rejects(l.start(), /port in use/);
  assert.deepEqual(log, ['start a', 'start b', 'stop c', 'stop b', 'stop a'], 'the failing component too (it may have opened something)');
});

test('every component is stopped even when one fails to stop; the first error is thrown', async () => {
  const log: string[] = [];
  const l = new Lifecycle(silentLogger)
    .add(recorder(log, 'a'))
    .add(recorder(log, 'b', { stop: () => Promise.reject(new Error('flush failed')) }))
    .add(recorder(log, 'c'));
  await l.start();
  await assert.rejects(l.stop(), /flush failed/);
  assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop a']);
});

test('failed() settles with the first component failure, naming the component', async () => {
  let fail!: (e: Error) => void;
  const l = new Lifecycle(silentLogger).add({ name: 'quiet' }).add({ name: 'consumer', failed: () => new Promise<Error>((r) => (fail = r)) });
  const f = l.failed();
  fail(new Error('group authorization failed'));
  const e = (await f) as Error & { component?: string };
  assert.equal(e.message, 'group authorization failed');
  assert.equal(e.component, 'consumer');
});
