import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, F, HEADER_SIZE, RECORD_SIZE, RECORD_SIZE_V1, FORMAT_VERSION, openBatch, readRecord } from './index.js';
import { crc32 } from 'node:zlib';

test('a record area handed out but never counted (a decoder fault, a skipped record) is zeroed before reuse', () => {
  const w = new BatchWriter(4);
  const o = w.reserve(3);
  // A decoder wrote two records' worth and failed before counting them.
  w.buf.fill(0xab, o, o + 2 * RECORD_SIZE);
  w.truncate(0);
  const o2 = w.reserve(2);
  assert.ok(
    w.buf.subarray(o2, o2 + 3 * RECORD_SIZE).every((b) => b === 0),
    'truncate zeroed the uncounted area',
  );
  w.buf.fill(0xcd, o2 + RECORD_SIZE, o2 + 2 * RECORD_SIZE);
  w.count = 1;
  w.reset();
  assert.ok(
    w.buf.subarray(HEADER_SIZE, HEADER_SIZE + 3 * RECORD_SIZE).every((b) => b === 0),
    'reset zeroed past count',
  );
  w.reserve(2);
  w.buf.fill(0xef, HEADER_SIZE + RECORD_SIZE, HEADER_SIZE + 2 * RECORD_SIZE);
  w.count = 1;
  w.finish();
  assert.ok(
    w.buf.subarray(HEADER_SIZE, HEADER_SIZE + 3 * RECORD_SIZE).every((b) => b === 0),
    'finish zeroed past count',
  );
});

test('format version 1 batches (112-byte records) are widened on open; the new fields read as absent', () => {
  const rec = Buffer.alloc(RECORD_SIZE_V1);
  const dv = new DataView(rec.buffer);
  dv.setFloat64(F.start, 1_700_000_000_000, true);
  dv.setFloat64(F.bytes, 1500, true);
  rec.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1], F.src);
  rec[F.version] = 9;
  const old = Buffer.alloc(HEADER_SIZE + RECORD_SIZE_V1);
  old.writeUInt32LE(0x42465348, 0);
  old.writeUInt8(1, 4);
  old.writeUInt16LE(RECORD_SIZE_V1, 6);
  old.writeUInt32LE(1, 8);
  rec.copy(old, HEADER_SIZE);
  old.writeUInt32LE(crc32(old.subarray(HEADER_SIZE)), 12);
  const v = openBatch(old);
  assert.equal(v.buf.length, HEADER_SIZE + RECORD_SIZE);
  assert.equal(v.buf.readUInt8(4), FORMAT_VERSION);
  const r = readRecord(v.buf, v.dv, 0);
  assert.deepEqual([r.start, r.bytes, r.src, r.flowVersion, r.srcMac, r.vlan, r.srcAs], [1_700_000_000_000, 1500, '10.0.0.1', 9, null, 0, 0]);
});
