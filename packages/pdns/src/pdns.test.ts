import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Aggregator,
  CONTROL,
  DNSTAP_CONTENT_TYPE,
  FrameReader,
  controlFrame,
  dataFrame,
  encodeDnsResponse,
  parseDnsMessage,
  TYPE_A,
  TYPE_CNAME,
  type PdnsTuple,
} from './index.js';

function answers(msg: Uint8Array): { ok: boolean; list: string[] } {
  const list: string[] = [];
  const r = parseDnsMessage(msg, (n, t, d) => list.push(`${n} ${t} ${d}`));
  return { ok: r.ok, list };
}

test('DNS answers: A, AAAA, CNAME chains with compression, case folded, other types and classes skipped', () => {
  const m = encodeDnsResponse('Cam.Acme.COM', 'A', [
    { name: 'cam.acme.com', type: 'CNAME', data: 'edge.cdn.acme.net' },
    { name: 'edge.cdn.acme.net', type: 'A', data: '198.51.100.1' },
    { name: 'edge.cdn.acme.net', type: 'AAAA', data: '2001:db8:0:0:0:0:0:1' },
  ]);
  assert.deepEqual(answers(m), {
    ok: true,
    list: ['cam.acme.com 5 edge.cdn.acme.net', 'edge.cdn.acme.net 1 198.51.100.1', 'edge.cdn.acme.net 28 2001:db8::1'],
  });
  // A TXT record and a CHAOS-class A between: skipped by length, the rest read.
  const txt = Buffer.from([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 3, 2, 0x68, 0x69]);
  const chaos = Buffer.from([0xc0, 12, 0, 1, 0, 3, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
  const base = encodeDnsResponse('x.example', 'A', [{ name: 'x.example', type: 'A', data: '192.0.2.1' }]);
  const withMore = Buffer.concat([base, txt, chaos]);
  withMore.writeUInt16BE(3, 6);
  assert.deepEqual(answers(withMore).list, ['x.example 1 192.0.2.1']);
});

test('malformed DNS messages deliver nothing and never throw: cut, pointer loops, lying lengths, random bytes', () => {
  const good = encodeDnsResponse('cam.acme.com', 'A', [
    { name: 'cam.acme.com', type: 'A', data: '198.51.100.1' },
    { name: 'cam.acme.com', type: 'A', data: '198.51.100.2' },
  ]);
  for (let len = 0; len < good.length; len++) assert.deepEqual(answers(good.subarray(0, len)).list, [], `cut at ${len}`);
  const loop = Buffer.from(good);
  loop.writeUInt16BE(0xc000 | 12, 12); // the question name points at itself
  assert.equal(answers(loop).ok, false);
  const lying = Buffer.from(good);
  lying.writeUInt16BE(60000, lying.length - 6); // rdlength of the second answer
  assert.deepEqual(answers(lying), { ok: false, list: [] });
  const badA = Buffer.from(good);
  badA.writeUInt16BE(5, badA.length - 6);
  assert.equal(answers(badA).ok, false, 'an A record of 5 bytes');
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.from(good);
    for (let k = 0; k < 3; k++) b[rnd() % b.length] = rnd();
    answers(b); // must not throw
  }
});

test('Frame Streams: frames split anywhere, control frames with content types, oversized frames skipped unbuffered', () => {
  const frames = [dataFrame(Buffer.from('one')), dataFrame(Buffer.alloc(5000, 7)), dataFrame(Buffer.from('three'))];
  const big = Buffer.alloc(4 + 100_000);
  big.writeUInt32BE(100_000, 0);
  const stream = Buffer.concat([controlFrame(CONTROL.START, DNSTAP_CONTENT_TYPE), frames[0]!, big, frames[1]!, frames[2]!, controlFrame(CONTROL.STOP)]);
  for (const chunk of [1, 3, 7, 4096, stream.length]) {
    const got: string[] = [];
    let oversized = 0;
    const r = new FrameReader(
      {
        data: (f) => got.push(f.length === 3 || f.length === 5 ? Buffer.from(f).toString() : `${f.length} bytes`),
        control: (t, types) => got.push(`control ${t} ${types.join(',')}`),
        oversized: () => oversized++,
      },
      65536,
    );
    for (let p = 0; p < stream.length; p += chunk) r.push(stream.subarray(p, p + chunk));
    assert.deepEqual(got, [`control 2 ${DNSTAP_CONTENT_TYPE}`, 'one', '5000 bytes', 'three', 'control 3 '], `chunks of ${chunk}`);
    assert.equal(oversized, 1);
    assert.equal(r.pending, 0);
    assert.equal(r.error, null);
  }
  const bad = new FrameReader({ data: () => {}, control: () => {}, oversized: () => {} });
  bad.push(Buffer.from('00000000000010000000000100', 'hex'));
  assert.match(bad.error ?? '', /control frame of 4096 bytes/);
});

test('the aggregator keeps per-day tuples (first, last, count) and flushes on its bound, so memory stays bounded', () => {
  const windows: PdnsTuple[][] = [];
  const agg = new Aggregator({ maxTuples: 1000, flush: (t) => windows.push(t) });
  const day = Date.UTC(2026, 11, 1);
  agg.add('a.example', TYPE_A, '192.0.2.1', day + 5000);
  agg.add('a.example', TYPE_A, '192.0.2.1', day + 1000);
  agg.add('a.example', TYPE_A, '192.0.2.1', day + 86_400_000 + 1); // the next day: its own tuple
  agg.add('a.example', TYPE_CNAME, 'b.example', day);
  agg.add('x', 99, 'ignored', day);
  for (let i = 0; i < 5000; i++) agg.add(`n${i}.example`, TYPE_A, '192.0.2.2', day);
  assert.ok(agg.size < 1000);
  agg.flush('stop');
  const all = windows.flat();
  assert.equal(all.length, 5003);
  const a = all.find((t) => t.name === 'a.example' && t.type === 'A' && t.day === '2026-12-01')!;
  assert.deepEqual([a.first, a.last, a.count], [day + 1000, day + 5000, 2]);
  assert.ok(all.some((t) => t.name === 'a.example' && t.day === '2026-12-02'));
  assert.ok(windows.length >= 5 && windows.every((w) => w.length <= 1000));
});

test('only NOERROR responses state facts: an NXDOMAIN with a CNAME, a SERVFAIL, a query deliver nothing', () => {
  const nx = encodeDnsResponse('gone.example', 'A', [{ name: 'gone.example', type: 'CNAME', data: 'elsewhere.example' }], 1, 3);
  const r = answers(nx);
  assert.deepEqual(r.list, []);
  const fail = encodeDnsResponse('x.example', 'A', [{ name: 'x.example', type: 'A', data: '192.0.2.1' }], 1, 2);
  assert.deepEqual(answers(fail).list, []);
  const query = Buffer.from(encodeDnsResponse('x.example', 'A', [{ name: 'x.example', type: 'A', data: '192.0.2.1' }]));
  query[2]! &= 0x7f; // QR = 0
  assert.deepEqual(answers(query).list, []);
});
