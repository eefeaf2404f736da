import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir, writeFile } from '../test-helpers.js';
import { CertFileInput, type CertNames, type CertObservation } from './certs.js';
import { forEachLine } from './lines.js';
import { PdnsFileInput, type PdnsRecord } from './pdns.js';
import { InputReport } from './report.js';

async function readPdns(path: string): Promise<{ records: PdnsRecord[]; report: InputReport }> {
  const records: PdnsRecord[] = [];
  const report = new InputReport(path);
  await new PdnsFileInput(path).read((r) => records.push(r), report);
  return { records, report };
}

const T1 = 1715299200; // 2024-05-10T00:00:00Z
const T2 = T1 + 3600;

test('passive DNS: COF lines, every kind of malformed line counted with its line, valid lines kept', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const good = (o: object) => JSON.stringify({ time_first: T1, time_last: T2, ...o });
  const lines = [
    good({ rrname: 'A.Example.COM.', rrtype: 'A', rdata: '192.0.2.1', count: 3 }), // 1 ok, normalised
    '{not json', // 2
    '[1,2,3]', // 3 not an object
    good({ rrtype: 'A', rdata: '192.0.2.1' }), // 4 missing rrname
    good({ rrname: 'x.example.com', rdata: '192.0.2.1' }), // 5 missing rrtype
    good({ rrname: 'bad name!.example.com', rrtype: 'A', rdata: '192.0.2.1' }), // 6 invalid rrname
    JSON.stringify({ rrname: 'x.example.com', rrtype: 'A', rdata: '192.0.2.1', time_first: T1 }), // 7 missing time_last
    JSON.stringify({ rrname: 'x.example.com', rrtype: 'A', rdata: '192.0.2.1', time_first: T2, time_last: T1 }), // 8 reversed
    good({ rrname: 'x.example.com', rrtype: 'A' }), // 9 missing rdata
    good({ rrname: 'multi.example.com', rrtype: 'A', rdata: ['192.0.2.7', '300.1.1.1', 7, '192.0.2.8'] }), // 10: 2 kept, 2 skipped
    good({ rrname: 'x.example.com', rrtype: 'AAAA', rdata: '192.0.2.1' }), // 11 A address in AAAA
    good({ rrname: 'x.example.com', rrtype: 'CNAME', rdata: 'not a name' }), // 12 invalid target
    good({ rrname: 'x.example.com', rrtype: 'MX', rdata: '10 mail.example.com.' }), // 13 ignored type
    '', // 14 blank
    JSON.stringify({ rrname: 'zone.example.com', rrtype: 'CNAME', rdata: 'Target.Example.NET.', zone_time_first: T1, zone_time_last: T2 }), // 15 zone_time_*
    good({ rrname: 'v6.example.com', rrtype: 'aaaa', rdata: '2001:DB8:0::1' }) + '\r', // 16 CRLF, lower-case type
    good({ rrname: 'str.example.com', rrtype: 'A', rdata: '192.0.2.9', time_first: String(T1), time_last: String(T2) }), // 17 numeric strings
  ];
  const path = writeFile(join(dir, 'cof.jsonl'), lines.join('\n')); // no final newline
  const { records, report } = await readPdns(path);
  assert.deepEqual(
    records.map((r) => `${r.rrname} ${r.rrtype} ${r.rdata}`),
    [
      'a.example.com A 192.0.2.1',
      'multi.example.com A 192.0.2.7',
      'multi.example.com A 192.0.2.8',
      'zone.example.com CNAME target.example.net',
      'v6.example.com AAAA 2001:db8::1',
      'str.example.com A 192.0.2.9',
    ],
  );
  assert.equal(records[0]!.count, 3);
  assert.equal(records[3]!.timeFirst, T1);
  assert.equal(report.lines, 17);
  assert.equal(report.records, 6);
  assert.deepEqual(Object.fromEntries(report.skipped), {
    'invalid JSON': 1,
    'not a JSON object': 1,
    'missing rrname': 1,
    'missing rrtype': 1,
    'invalid rrname': 1,
    'missing or invalid time_first/time_last': 1,
    'time_last before time_first': 1,
    'missing rdata': 1,
    'invalid A address': 1,
    'invalid rdata value': 1,
    'invalid AAAA address': 1,
    'invalid CNAME target': 1,
  });
  assert.deepEqual(Object.fromEntries(report.ignored), { 'rrtype MX': 1, 'blank line': 1 });
  const sample = (reason: string) => report.samples.find((s) => s.reason.startsWith(reason));
  assert.equal(sample('invalid JSON')!.line, 2);
  assert.equal(sample('invalid JSON')!.file, path);
  assert.equal(sample('invalid A address')!.line, 10);
  assert.equal(sample('time_last before time_first')!.line, 8);
});

test('passive DNS: DNSDB API v2 streams, gzip by magic bytes, a limited or unterminated stream is reported', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const obj = (o: object) => JSON.stringify({ obj: { time_first: T1, time_last: T2, ...o } });
  const stream = [
    '{"cond":"begin"}',
    obj({ rrname: 'api.example.com.', rrtype: 'CNAME', rdata: ['edge.example.net.'] }),
    '{"obj": "nope"}',
    obj({ rrname: 'edge.example.net.', rrtype: 'A', rdata: ['192.0.2.10', '192.0.2.11'] }),
    '{"cond":"limited","msg":"Result limit reached"}',
  ].join('\n');
  const gz = join(dir, 'dnsdb.data'); // no .gz suffix: detected by content
  writeFileSync(gz, gzipSync(stream + '\n'));
  const a = await readPdns(gz);
  assert.deepEqual(
    a.records.map((r) => `${r.rrname}>${r.rdata}`),
    ['api.example.com>edge.example.net', 'edge.example.net>192.0.2.10', 'edge.example.net>192.0.2.11'],
  );
  assert.deepEqual(Object.fromEntries(a.report.skipped), { 'DNSDB "obj" is not an object': 1 });
  assert.equal(a.report.warnings.length, 1);
  assert.match(a.report.warnings[0]!, /dnsdb\.data:5: DNSDB stream ended "limited": Result limit reached/);

  const cut = writeFile(join(dir, 'cut.jsonl'), stream.split('\n').slice(0, 3).join('\n') + '\n');
  const b = await readPdns(cut);
  assert.equal(b.records.length, 1);
  assert.match(b.report.warnings[0]!, /no terminating "cond" line/);

  // A truncated gzip: every complete line before the damage is used, the damage is reported.
  const full = gzipSync(Array.from({ length: 2000 }, (_, i) => obj({ rrname: `h${i}.example.com`, rrtype: 'A', rdata: '192.0.2.1' })).join('\n') + '\n');
  const trunc = join(dir, 'trunc.gz');
  writeFileSync(trunc, full.subarray(0, Math.floor(full.length * 0.6)));
  const c = await readPdns(trunc);
  assert.ok(c.records.length > 100 && c.records.length < 2000, `${c.records.length} records`);
  assert.ok(
    c.report.warnings.some((w) => /read stopped early/.test(w)),
    c.report.warnings.join('\n'),
  );
  assert.equal(c.report.skippedTotal, 0, 'the partial last line is not delivered as garbage');
});

test('line reader: over-long lines are skipped without buffering them, numbering continues', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const long = 'x'.repeat(5000);
  const path = writeFile(join(dir, 'l.txt'), `a\n${long}\nb\r\n\n${long}`);
  const seen: string[] = [];
  const tooLong: number[] = [];
  const n = await forEachLine(path, (l, i) => seen.push(`${i}:${l}`), { maxLineBytes: 1000, onTooLong: (i) => tooLong.push(i) });
  assert.equal(n, 5);
  assert.deepEqual(seen, ['1:a', '3:b', '4:']);
  assert.deepEqual(tooLong, [2, 5]);
});

test('certificates: Censys hosts, flat observations and certificate records; malformed lines counted', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const fp = (c: string) => c.repeat(64);
  const lines = [
    JSON.stringify({ fingerprint_sha256: fp('a'), names: ['c.deve.com', '*.deve.com.'] }), // 1 cert
    JSON.stringify({ parsed: { fingerprint_sha256: fp('b'), names: ['X.Example.com'] } }), // 2 older export
    JSON.stringify({
      ip: '192.0.2.5',
      last_updated_at: '2024-05-10T10:00:00Z',
      services: [
        {
          port: 443,
          transport_protocol: 'TCP',
          banner_hashes: ['sha256:AB'],
          tls: { certificates: { leaf_fp_sha256: fp('C'), leaf_data: { names: ['h.example.com'] } } },
        },
        { port: 80, service_name: 'HTTP', banner: 'hello' }, // no certificate: ignored
        { port: 8883, banner: 'mqtt', certificate: fp('d'), observed_at: 1715335200 },
        { port: 'x' }, // invalid port
        'nonsense', // not an object
      ],
    }), // 3
    JSON.stringify({ ip: '2001:DB8::5', port: '8443', fingerprint_sha256: fp('e').toUpperCase(), observed_at: 1715335200000 }), // 4 ms time, v6
    JSON.stringify({ ip: 'not-an-ip', port: 443, fingerprint_sha256: fp('f'), observed_at: 1 }), // 5
    JSON.stringify({ ip: '192.0.2.6', port: 443, fingerprint_sha256: 'abc', observed_at: 1 }), // 6 bad fingerprint
    JSON.stringify({ ip: '192.0.2.6', port: 443, fingerprint_sha256: fp('f') }), // 7 no time
    JSON.stringify({ fingerprint_sha256: fp('a') }), // 8 cert without names
    JSON.stringify({ names: ['x'] }), // 9 neither
    JSON.stringify({ ip: '192.0.2.6', port: 443, fingerprint_sha256: fp('f'), names: 'x', observed_at: 1 }), // 10 bad names
    'garbage', // 11
  ];
  const path = join(dir, 'scan.json.gz');
  writeFileSync(path, gzipSync(lines.join('\n') + '\n'));
  const certs: CertNames[] = [];
  const obs: CertObservation[] = [];
  const report = new InputReport(path);
  await new CertFileInput(path).read(
    (c) => certs.push(c),
    (o) => obs.push(o),
    report,
  );
  assert.deepEqual(
    certs.map((c) => `${c.fingerprint[0]}:${c.names.join('|')}`),
    ['a:c.deve.com|*.deve.com', 'b:x.example.com', 'c:h.example.com'],
  );
  assert.deepEqual(
    obs.map((o) => `${o.address} ${o.port}/${o.transport} ${o.fingerprint[0]} ${o.time}`),
    ['192.0.2.5 443/tcp c 1715335200', '192.0.2.5 8883/tcp d 1715335200', '2001:db8::5 8443/tcp e 1715335200'],
  );
  assert.deepEqual([obs[0]!.bannerHash, obs[2]!.bannerHash], ['sha256:ab', '']);
  assert.match(obs[1]!.bannerHash, /^sha256:[0-9a-f]{64}$/, 'a banner without a hash is hashed');
  assert.equal(report.records, 5);
  assert.deepEqual(Object.fromEntries(report.skipped), {
    'missing or invalid port': 1,
    'invalid service entry': 1,
    'invalid ip': 1,
    'invalid certificate fingerprint': 1,
    'missing or invalid observation time': 1,
    'certificate without names': 1,
    'neither ip nor certificate fingerprint': 1,
    'invalid certificate names': 1,
    'invalid JSON': 1,
  });
  assert.deepEqual(Object.fromEntries(report.ignored), { 'service without certificate': 1 });
  assert.equal(report.samples.find((s) => s.reason.startsWith('invalid ip'))!.line, 5);
});
