import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBus } from './memory-bus.js';
import { TransportClosedError } from './util.js';
import type { BatchMeta } from './types.js';
import { batchTag, deferred, makeBatch, Observer } from './test-batches.js';

type Seen = { partition: number; seq: number; offset: string };

test('MemoryBus: per-partition order, offsets as positions, byte-identical batches', async (t) => {
  const bus = new MemoryBus({ partitions: 3, queueCapacity: 8 });
  t.after(() => bus.close({ drain: false }));
  const sent = new Map<string, Buffer>();
  const seen: Seen[] = [];
  const obs = new Observer();
  const src = bus.createSource();
  await src.run(
    obs.guard(async (batch, meta) => {
      const tag = batchTag(batch);
      assert.equal(tag.partition, meta.partition);
      assert.ok(batch.equals(sent.get(`${tag.partition}:${tag.seq}`)!), 'byte-identical');
      seen.push({ ...tag, offset: meta.offset });
    }),
  );
  const publishes: Promise<void>[] = [];
  for (let seq = 0; seq < 20; seq++) {
    for (let p = 0; p < 3; p++) {
      const b = makeBatch(p, seq);
      sent.set(`${p}:${seq}`, b);
      publishes.push(bus.sink.publish(p, b));
    }
  }
  await Promise.all(publishes);
  await obs.waitFor(() => seen.length === 60);
  await src.close(); // returns after the last handler's commit
  for (let p = 0; p < 3; p++) {
    const mine = seen.filter((s) => s.partition === p);
    assert.deepEqual(
      mine.map((s) => s.seq),
      [...Array(20).keys()],
    );
    assert.deepEqual(
      mine.map((s) => s.offset),
      [...Array(20).keys()].map(String),
    );
    assert.equal(bus.position(p), 20);
  }
  assert.deepEqual(bus.stats(), { published: 60, delivered: 60, queued: 0, waiting: 0, publishWaits: 36, handlerErrors: 0 });
});

test('MemoryBus: publish waits when a partition is full and keeps publish order', async (t) => {
  const bus = new MemoryBus({ partitions: 2, queueCapacity: 2 });
  t.after(() => bus.close({ drain: false }));
  const order: number[] = [];
  let other = 0;
  const results: string[] = [];
  const pubs = [0, 1, 2, 3, 4].map((seq) =>
    bus.sink.publish(0, makeBatch(0, seq)).then(() => {
      results.push(`p${seq}`);
    }),
  );
  // Partition 1 is independent of partition 0's backlog.
  await bus.sink.publish(1, makeBatch(1, 0));
  assert.deepEqual(bus.stats(), { published: 3, delivered: 0, queued: 3, waiting: 3, publishWaits: 3, handlerErrors: 0 });
  assert.deepEqual(results, ['p0', 'p1']);

  const obs = new Observer();
  const src = bus.createSource();
  await src.run(
    obs.guard(async (batch, meta) => {
      if (meta.partition === 0) order.push(batchTag(batch).seq);
      else other++;
    }),
  );
  await Promise.all(pubs);
  await obs.waitFor(() => order.length === 5 && other === 1);
  await src.close();
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(results, ['p0', 'p1', 'p2', 'p3', 'p4']);
  assert.equal(bus.stats().queued, 0);
  assert.equal(bus.stats().delivered, 6);
});

test('MemoryBus: position advances only after the handler resolved; a failure is retried, not skipped', async (t) => {
  const bus = new MemoryBus({ partitions: 1 });
  t.after(() => bus.close({ drain: false }));
  const gate = deferred();
  const attempts: number[] = [];
  const errors: BatchMeta[] = [];
  const done = deferred();
  let failedOnce = false;
  const src = bus.createSource({ retry: { initialMs: 1, maxMs: 5 }, onError: (_e, meta) => errors.push(meta) });
  const started = deferred();
  await src.run(async (batch) => {
    const { seq } = batchTag(batch);
    attempts.push(seq);
    if (seq === 0) {
      started.resolve();
      await gate.promise;
    }
    if (seq === 1 && !failedOnce) {
      failedOnce = true;
      throw new Error('downstream hiccup');
    }
    if (seq === 2) done.resolve();
  });
  for (let seq = 0; seq < 3; seq++) await bus.sink.publish(0, makeBatch(0, seq));
  await started.promise;
  // Handler of batch 0 in flight: nothing committed yet.
  assert.equal(bus.position(0), 0);
  assert.equal(bus.stats().delivered, 0);
  gate.resolve();
  await done.promise;
  await src.close();
  assert.deepEqual(attempts, [0, 1, 1, 2]);
  assert.deepEqual(errors, [{ partition: 0, offset: '1' }]);
  assert.equal(bus.position(0), 3);
  assert.equal(bus.stats().handlerErrors, 1);
});

test('MemoryBus: a stopped source leaves the rest uncommitted and a new one resumes exactly there', async (t) => {
  const bus = new MemoryBus({ partitions: 2, queueCapacity: 16 });
  t.after(() => bus.close({ drain: false }));
  for (let seq = 0; seq < 10; seq++) for (let p = 0; p < 2; p++) await bus.sink.publish(p, makeBatch(p, seq));

  const first: string[] = [];
  const stopAt = deferred();
  const a = bus.createSource();
  await a.run(async (batch, meta) => {
    const { partition, seq } = batchTag(batch);
    first.push(`${partition}:${seq}@${meta.offset}`);
    if (first.length === 7) stopAt.resolve();
  });
  await stopAt.promise;
  await a.close();
  const committed = bus.position(0) + bus.position(1);
  assert.equal(committed, first.length); // the in-flight handler finished and was committed

  const second: string[] = [];
  const obs = new Observer();
  const b = bus.createSource();
  await b.run(
    obs.guard(async (batch, meta) => {
      const { partition, seq } = batchTag(batch);
      second.push(`${partition}:${seq}@${meta.offset}`);
    }),
  );
  await obs.waitFor(() => first.length + second.length === 20);
  await b.close();
  assert.equal(bus.position(0) + bus.position(1), 20);
  const all = [...first, ...second];
  assert.equal(new Set(all).size, 20, 'nothing delivered twice');
  for (const s of all) {
    const [ps, rest] = s.split(':');
    const [seq, off] = rest!.split('@');
    assert.equal(seq, off, `${s}: sequence and position agree`);
    assert.ok(Number(ps) < 2);
  }
});

test('MemoryBus: close drains queued and waiting batches into the running source, then refuses publishes', async () => {
  const bus = new MemoryBus({ partitions: 1, queueCapacity: 1 });
  const got: number[] = [];
  const src = bus.createSource();
  const gate = deferred();
  await src.run(async (batch) => {
    await gate.promise;
    got.push(batchTag(batch).seq);
  });
  const pubs = [0, 1, 2].map((seq) => bus.sink.publish(0, makeBatch(0, seq)));
  const closing = bus.close({ drain: true });
  await assert.rejects(bus.sink.publish(0, makeBatch(0, 9)), TransportClosedError);
  gate.resolve();
  await closing;
  await Promise.all(pubs);
  assert.deepEqual(got, [0, 1, 2]);
  assert.deepEqual(bus.stats().queued, 0);
});

test('MemoryBus: close without drain stops after the handler in flight and fails waiting publishes', async () => {
  const bus = new MemoryBus({ partitions: 1, queueCapacity: 1 });
  const got: number[] = [];
  const inFlight = deferred();
  const gate = deferred();
  const src = bus.createSource();
  await src.run(async (batch) => {
    inFlight.resolve();
    await gate.promise;
    got.push(batchTag(batch).seq);
  });
  const p0 = bus.sink.publish(0, makeBatch(0, 0));
  await inFlight.promise;
  const p1 = bus.sink.publish(0, makeBatch(0, 1)); // waits: the handled batch still holds the slot
  const p1Result = p1.then(
    () => 'resolved',
    (e: Error) => e.name,
  );
  const closing = bus.close({ drain: false });
  gate.resolve();
  await closing;
  await p0;
  assert.equal(await p1Result, 'TransportClosedError');
  assert.deepEqual(got, [0]);
  assert.equal(bus.position(0), 1);
});

test('MemoryBus: concurrency bounds how many partitions are handled at once', async (t) => {
  for (const concurrency of [1, 3]) {
    const bus = new MemoryBus({ partitions: 4, queueCapacity: 8 });
    t.after(() => bus.close({ drain: false }));
    let active = 0;
    let peak = 0;
    let handled = 0;
    const perPartitionActive = new Map<number, number>();
    const obs = new Observer();
    const src = bus.createSource({ concurrency });
    await src.run(
      obs.guard(async (_b, meta) => {
        active++;
        peak = Math.max(peak, active);
        perPartitionActive.set(meta.partition, (perPartitionActive.get(meta.partition) ?? 0) + 1);
        assert.equal(perPartitionActive.get(meta.partition), 1, 'one batch of a partition at a time');
        // Yield a few turns so other workers get a chance to overlap.
        for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
        perPartitionActive.set(meta.partition, 0);
        active--;
        handled++;
      }),
    );
    for (let seq = 0; seq < 6; seq++) for (let p = 0; p < 4; p++) await bus.sink.publish(p, makeBatch(p, seq));
    await obs.waitFor(() => handled === 24);
    await src.close();
    assert.equal(bus.stats().delivered, 24);
    if (concurrency === 1) assert.equal(peak, 1);
    else assert.ok(peak > 1 && peak <= concurrency, `peak ${peak}`);
  }
});

test('MemoryBus: bad input and misuse give clear errors', async (t) => {
  assert.throws(() => new MemoryBus({ partitions: 0 }), /partitions must be a positive integer/);
  assert.throws(() => new MemoryBus({ queueCapacity: 0 }), /queueCapacity/);
  const bus = new MemoryBus({ partitions: 2 });
  t.after(() => bus.close({ drain: false }));
  await assert.rejects(bus.sink.publish(2, makeBatch(0, 0)), /partition 2 out of range: the flow topic has 2 partition/);
  await assert.rejects(bus.sink.publish(-1, makeBatch(0, 0)), RangeError);
  await assert.rejects(bus.sink.publish(0, 'text' as unknown as Buffer), /batch must be a Buffer/);
  await assert.rejects(bus.sink.publish(0, Buffer.alloc(0)), /batch is empty/);
  const a = bus.createSource();
  await a.run(async () => undefined);
  await assert.rejects(
    bus.createSource().run(async () => undefined),
    /already has a running source/,
  );
  await a.close();
  assert.equal(bus.stats().published, 0);
});
