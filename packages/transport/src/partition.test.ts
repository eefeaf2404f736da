import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { murmur2, partitionFor, partitionForBytes } from './partition.js';

function kafkajsPartition(key: Buffer, numPartitions: number): number {
  // A fresh partitioner per call: it is stateful only for keyless messages.
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: numPartitions }, (_, i) => ({
    partitionId: i,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

test('partitionFor equals kafkajs DefaultPartitioner on random keys of every tail length', () => {
  const counts = [1, 2, 3, 7, 8, 12, 64, 100, 1000];
  let checked = 0;
  for (let len = 0; len <= 40; len++) {
    for (let i = 0; i < 60; i++) {
      const key = randomBytes(len);
      for (const n of counts) {
        assert.equal(partitionFor(key, n), kafkajsPartition(key, n), `key ${key.toString('hex')} n=${n}`);
        checked++;
      }
    }
  }
  // Keys like ingest's: a 16-byte subscriber address inside a larger buffer.
  for (let i = 0; i < 2000; i++) {
    const key = randomBytes(16);
    assert.equal(partitionFor(key, 12), kafkajsPartition(key, 12));
    checked++;
  }
  assert.ok(checked > 20_000);
});

test('murmur2 matches known Java client values', () => {
  // From Apache Kafka's UtilsTest.testMurmur2 (Utils.murmur2 on the UTF-8 bytes).
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, want] of cases) assert.equal(murmur2(Buffer.from(s)), want, s);
});

test('partitionForBytes reads a range in place, same as the copied key', () => {
  const buf = randomBytes(4096);
  for (let i = 0; i < 500; i++) {
    const off = (i * 37) % (buf.length - 40);
    const len = i % 33;
    const copy = Buffer.from(buf.subarray(off, off + len));
    assert.equal(partitionForBytes(buf, off, len, 16), partitionFor(copy, 16));
    // A Uint8Array view (not a Buffer) works the same.
    assert.equal(partitionForBytes(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), off, len, 16), partitionFor(copy, 16));
  }
});

test('bad arguments are refused clearly', () => {
  assert.throws(() => partitionFor(Buffer.from('k'), 0), /numPartitions must be a positive integer/);
  assert.throws(() => partitionFor(Buffer.from('k'), 2.5), /numPartitions/);
  assert.throws(() => partitionForBytes(Buffer.alloc(8), 4, 8, 3), /outside a 8-byte buffer/);
  assert.throws(() => partitionForBytes(Buffer.alloc(8), -1, 2, 3), RangeError);
});
