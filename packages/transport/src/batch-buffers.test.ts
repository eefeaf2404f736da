import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchBuffers } from './batch-buffers.js';

test('batch memory: reused once given back, only the pool’s own, bounded', () => {
  const pool = new BatchBuffers(2);
  const a = pool.take(1000);
  assert.equal(a.byteOffset, 0);
  assert.ok(a.length >= 1000 && pool.owns(a) && pool.owns(a.subarray(0, 10)));
  pool.give(a.subarray(0, 100)); // a published view of it
  const b = pool.take(1000);
  assert.equal(b.buffer, a.buffer, 'the memory serves the next batch');
  assert.equal(pool.reused, 1);

  // Never a batch built elsewhere, nor Node's shared small-Buffer pool.
  const foreign = Buffer.allocUnsafe(100);
  const elsewhere = Buffer.from(new ArrayBuffer(1000));
  assert.ok(!pool.owns(foreign) && !pool.owns(elsewhere));
  pool.give(foreign);
  pool.give(elsewhere);
  const c = pool.take(1000);
  assert.notEqual(c.buffer, foreign.buffer);
  assert.notEqual(c.buffer, elsewhere.buffer);

  // Too small for the request: dropped, a new one allocated; at most `max` kept.
  pool.give(pool.take(10));
  assert.notEqual(pool.take(1000).buffer, undefined);
  const many = [pool.take(64), pool.take(64), pool.take(64), pool.take(64)];
  for (const m of many) pool.give(m);
  const again = [pool.take(64), pool.take(64), pool.take(64)];
  assert.equal(again.filter((x) => many.some((m) => m.buffer === x.buffer)).length, 2);

  // A buffer that went to another thread and came back is the pool's again.
  const moved = new ArrayBuffer(2000);
  pool.adopt(moved);
  assert.equal(pool.take(2000).buffer, moved);
});
