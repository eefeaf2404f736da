import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { exportKey } from './export-key.js';

// Keys are stored (the replay tables of @haystack/store) and compared with later replays' keys:
// their text must not change between versions, or a capture replayed again after an upgrade
// would count twice.
test('export keys keep their stored text: v5, v9, IPFIX and sFlow, unknown datagrams null', () => {
  const v9 = Buffer.alloc(40);
  v9.writeUInt16BE(9, 0);
  v9.writeUInt32BE(123456, 4); // uptime
  v9.writeUInt32BE(1_700_000_000, 8); // export seconds
  v9.writeUInt32BE(77, 12); // sequence
  v9.writeUInt32BE(3, 16); // source id
  assert.equal(exportKey(v9, '192.0.2.1'), `192.0.2.1 9 3 77 1700000000.123456 40 ${crc32(v9).toString(16)}`);

  const ipfix = Buffer.alloc(32);
  ipfix.writeUInt16BE(10, 0);
  ipfix.writeUInt32BE(1_700_000_001, 4);
  ipfix.writeUInt32BE(9, 8);
  ipfix.writeUInt32BE(256, 12);
  assert.equal(exportKey(ipfix, '2001:db8::1'), `2001:db8::1 10 256 9 1700000001 32 ${crc32(ipfix).toString(16)}`);

  const v5 = Buffer.alloc(24);
  v5.writeUInt16BE(5, 0);
  v5.writeUInt32BE(1_700_000_002, 8);
  v5.writeUInt32BE(5, 12);
  v5.writeUInt32BE(41, 16);
  v5[20] = 1;
  v5[21] = 2;
  assert.equal(exportKey(v5, '198.51.100.7'), `198.51.100.7 5 258 41 1700000002.5 24 ${crc32(v5).toString(16)}`);

  const sflow = Buffer.alloc(28);
  sflow.writeUInt32BE(5, 0);
  sflow.writeUInt32BE(1, 4); // agent IPv4
  sflow.set([10, 0, 0, 1], 8);
  sflow.writeUInt32BE(2, 12); // sub-agent
  sflow.writeUInt32BE(99, 16); // sequence
  sflow.writeUInt32BE(5000, 20); // uptime
  assert.equal(exportKey(sflow, '10.0.0.1'), `10.0.0.1 133 0a000001/2 99 5000 28 ${crc32(sflow).toString(16)}`);

  assert.equal(exportKey(Buffer.alloc(8), '192.0.2.1'), null, 'too short');
  assert.equal(exportKey(Buffer.from([0, 7, ...Buffer.alloc(30)]), '192.0.2.1'), null, 'not a flow export');
});
