/**
 * The first hour of a new operator: every everyday mistake gets one line naming the thing and
 * exit 2 (usage, configuration) or 1 (runtime), never a stack trace, and is caught before any
 * work; commands work from any directory; compressed captures are read; `decode | head` ends quietly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { IE, PacketBuilder } from '@haystack/decoders';
import { PcapWriter } from '@haystack/pcap';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'hs-first-hour-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAYSTACK_')) e[k] = v;
  return { ...e, HAYSTACK_STATE_DIR: join(dir, 'var'), HAYSTACK_LOG_LEVEL: 'warn', HAYSTACK_METRICS__LISTEN: 'null', ...extra };
}

/** Run the command from an unrelated working directory (no rules/ there). */
function run(args: string[], extra: Record<string, string> = {}) {
  const cwd = join(dir, 'elsewhere');
  mkdirSync(cwd, { recursive: true });
  const r = spawnSync(process.execPath, [main, ...args], { cwd, env: env(extra), encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function mistake(args: string[], code: number, pattern: RegExp, extra: Record<string, string> = {}) {
  const r = run(args, extra);
  const lines = r.err.split('\n').filter((l) => l.trim());
  assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
  assert.equal(lines.length, 1, `${args.join(' ')}: one line expected, got:\n${r.err}`);
  assert.match(lines[0]!, pattern, args.join(' '));
  assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
}

async function capture(path: string, n = 50): Promise<void> {
  // NetFlow v9 datagrams of one template and one record each, as an exporter would send them.
  const w = await PcapWriter.create(path);
  const fields = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
  ];
  for (let i = 0; i < n; i++) {
    const pkt = new PacketBuilder(9, { domain: 0, exportSecs: 1_763_600_000, sequence: i, uptimeMs: 1000 })
      .template(256, fields)
      .data(256, [[`10.0.${(i >> 8) & 255}.${i & 255}`, '52.1.2.3']])
      .build();
    await w.writeUdp({ tsMs: 1_763_600_000_000 + i, src: '192.0.2.1', srcPort: 40000, dst: '127.0.0.1', dstPort: 2055, payload: pkt });
  }
  await w.close();
}

test('everyday mistakes: one line naming the thing, exit 2, checked before any work', async () => {
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not a capture\n');
  const empty = join(dir, 'empty.pcap');
  writeFileSync(empty, '');
  mistake(['replay', join(dir, 'missing.pcap')], 2, /capture .*missing\.pcap: no such file/);
  mistake(['replay', dir], 2, /capture .* is a directory/);
  mistake(['decode', empty], 2, /capture .*empty\.pcap is empty/);
  mistake(['detect', '--replay', text], 2, /capture .*notes\.txt is not a pcap or pcapng file/);
  mistake(['demo', '--lines', '0'], 2, /--lines.*'0' is invalid/);
  mistake(['demo', '--day', '2026-02-30', '--out', join(dir, 'demo-bad-day')], 2, /'2026-02-30' is invalid\. not a day/);
  assert.ok(!existsSync(join(dir, 'demo-bad-day')), 'nothing simulated or overwritten for an invalid day');
  mistake(['demo', '--out', join(text, 'sub')], 2, /--out .*notes\.txt\/sub cannot be written \(a file is in the way\)/);
  mistake(['hitlist', 'build', '--day', '2026-11-20', '--pdns', dir], 2, /passive DNS input .* is a directory/);
  mistake(['hitlist', 'build', '--day', '2026-11-20', '--pdns', text, '--out', join(text, 'x')], 2, /--out .* cannot be written/);
  mistake(['report', '--day', '2026-13-01'], 2, /'2026-13-01' is invalid/);
  mistake(['ingest', '--netflow-port', '70000'], 2, /not a port number/);
  mistake(['config', 'show'], 2, /HAYSTACK_INGEST__SUBSCRIBER_PREFIXES: ingest\.subscriberPrefixes\.0: not an address or CIDR prefix: "100\.64\.0\.0\/33"/, {
    HAYSTACK_INGEST__SUBSCRIBER_PREFIXES: '100.64.0.0/33',
  });
  mistake(['report', '--day', '2026-11-20'], 1, /nothing stored for 2026-11-20 .*no flows and no detections/);
  // config show reads the files the configuration names, as the services would, each named by its key.
  const routes = join(dir, 'routes.csv');
  writeFileSync(routes, 'prefix,asn\n198.51.100.0/24,x\n');
  mistake(['config', 'show'], 2, /^haystack: ixp\.memberExport: deployment "ixp" needs the IXP's IX-F member export/, { HAYSTACK_DEPLOYMENT: 'ixp' });
  const ixpBad = run(['config', 'show'], {
    HAYSTACK_DEPLOYMENT: 'ixp',
    HAYSTACK_IXP__MEMBER_EXPORT: join(dir, 'none.json'),
    HAYSTACK_IXP__ROUTE_TABLE: routes,
  });
  assert.equal(ixpBad.code, 2);
  assert.match(
    ixpBad.err,
    /haystack: 2 problems:\n {2}ixp\.memberExport: member export .*none\.json: no such file\n {2}ixp\.routeTable: route table .*routes\.csv:2: "x" is not an AS number/,
  );
  // A capture of DNS traffic instead of exports: one line saying what it holds, exit 1, for each command.
  const dns = join(dir, 'dns.pcap');
  const pw = await PcapWriter.create(dns);
  for (let i = 0; i < 30; i++)
    await pw.writeUdp({
      tsMs: 1_763_600_000_000 + i,
      src: `10.0.0.${1 + (i % 3)}`,
      srcPort: 5353,
      dst: '192.0.2.53',
      dstPort: 53,
      payload: Buffer.from([0x12, i, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1]),
    });
  await pw.close();
  for (const args of [
    ['decode', dns],
    ['replay', dns],
    ['detect', '--replay', dns],
  ])
    mistake(args, 1, /dns\.pcap: no NetFlow, IPFIX or sFlow export in this capture: 30 UDP datagrams from 3 sources, none a flow export/);
  // A dictionary the configuration names must exist: the detector does not run without classes.
  const exports = join(dir, 'exports-for-rules.pcap');
  await capture(exports, 5);
  mistake(['detect', '--replay', exports], 2, /detector\.rulesDir .*no-rules: no such directory/, { HAYSTACK_DETECTOR__RULES_DIR: join(dir, 'no-rules') });
  mistake(['rules', 'show', '--rules', join(dir, 'no-rules')], 2, /--rules .*no-rules: no such directory/);
  mistake(['rules', 'show', '--maker', 'acme-nope'], 2, /--maker: no maker or platform "acme-nope" in the dictionary/);
  // What the dictionary covers, from any directory, with its date.
  const shown = run(['rules', 'show']);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /^IoT dictionary updated \d{4}-\d{2}-\d{2}, digest [0-9a-f]{12}: \d+ makers, \d+ platforms/);
  assert.match(shown.out, /\nTuya IoT cloud \(Smart Life\)\s+platform\s+platform\s/);
});

test('a port in use is one line and exit 1', async (t) => {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  t.after(() => sock.close());
  const busy = sock.address().port;
  mistake(
    ['ingest', '--bind', '127.0.0.1', '--netflow-port', String(busy), '--ipfix-port', '0', '--sflow-port', '0'],
    1,
    new RegExp(`port ${busy} is already in use`),
  );
});

test('the first commands work from any directory: --version, hitlist build with the shipped rules, compressed captures, decode | head', async () => {
  assert.match(run(['--version']).out, /^\d+\.\d+\.\d+\n$/);
  const pdns = join(dir, 'pdns.jsonl');
  writeFileSync(
    pdns,
    `${JSON.stringify({ rrname: 'example.org.', rrtype: 'A', rdata: '192.0.2.10', time_first: 1763596800, time_last: 1763600000, count: 1 })}\n`,
  );
  const b = run(['hitlist', 'build', '--day', '2025-11-20', '--pdns', pdns, '--no-history']);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /rules [0-9a-f]{12}/);

  const plain = join(dir, 'exports.pcap');
  await capture(plain, 3000);
  writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)));
  const r1 = run(['replay', '--json', '--no-progress', plain]);
  const r2 = run(['replay', '--json', '--no-progress', `${plain}.gz`]);
  assert.equal(r1.code, 0, r1.err);
  assert.equal(r2.code, 0, r2.err);
  assert.equal(JSON.parse(r2.out).published.records, JSON.parse(r1.out).published.records);
  assert.equal(JSON.parse(r1.out).published.records, 3000);

  // decode | head -1: the reader leaves early; the command ends quietly.
  const child = spawn(process.execPath, [main, 'decode', plain], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const first = await new Promise<string>((res) => child.stdout.once('data', (d: Buffer) => res(d.toString().split('\n')[0]!)));
  child.stdout.destroy();
  const code = await new Promise<number | null>((res) => child.once('close', (c) => res(c)));
  assert.match(first, /"packetIndex":1/);
  assert.equal(code, 0, err);
  assert.equal(err, '');
});

test('the demo narrates its steps without log lines mixed in (info logs are quiet unless asked)', () => {
  const r = run(['demo', '--lines', '200', '--out', join(dir, 'demo-quiet')], { HAYSTACK_LOG_LEVEL: '', HAYSTACK_LOG__LEVEL: 'info' });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^simulating 200 subscriber lines/);
  const logLines = (r.out + r.err).split('\n').filter((l) => /"level":|INFO:/.test(l));
  assert.deepEqual(logLines, [], 'no log lines in the narration');
});
