import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '@haystack/common';
import { IE, PacketBuilder } from '@haystack/decoders';
import type { HitlistBrowse } from '@haystack/console';
import { ACME_RULES, cof, writeFile } from '@haystack/hitlist/test-helpers';
import { openStore, TABLES } from '@haystack/store';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

test('haystack run: live exports over UDP reach the detector and ClickHouse; the console and `haystack report` work while it runs; SIGTERM stores before exiting', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'hs-run-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const env = {
    ...process.env,
    HAYSTACK_STATE_DIR: state,
    HAYSTACK_METRICS__LISTEN: 'null',
    HAYSTACK_INGEST__SUBSCRIBER_PREFIXES: '100.64.0.0/10',
    HAYSTACK_CONSOLE__LISTEN: '127.0.0.1:0',
  };
  const child = spawn(process.execPath, [main, 'run', '--netflow-port', '0', '--ipfix-port', '0', '--sflow-port', '0', '--bind', '127.0.0.1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  const ports: number[] = [];
  let consoleUrl = '';
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of stderr.split('\n')) {
        if (line.includes('console listening')) consoleUrl = (JSON.parse(line) as { url: string }).url;
        if (!line.includes('collector listening')) continue;
        const p = (JSON.parse(line) as { port: number }).port;
        if (!ports.includes(p)) ports.push(p);
      }
      if (ports.length >= 3 && consoleUrl) resolve(); // NetFlow, IPFIX and sFlow sockets (one chunk may carry all three lines), and the console
    });
    child.once('exit', (code) => reject(new Error(`haystack run exited early (${code}): ${stderr}`)));
  });
  await listening;

  const fields = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.sourceTransportPort, length: 2 },
    { id: IE.destinationTransportPort, length: 2 },
    { id: IE.protocolIdentifier, length: 1 },
    { id: IE.packetDeltaCount, length: 4 },
    { id: IE.octetDeltaCount, length: 4 },
    { id: IE.flowStartMilliseconds, length: 8 },
    { id: IE.flowEndMilliseconds, length: 8 },
  ];
  const now = Date.now();
  const rows = ['100.64.0.1', '100.64.0.2', '100.64.0.3'].map((a) => [a, '52.1.2.3', 40000, 443, 6, 5, 500, now - 2000, now - 1000]);
  const pkt = new PacketBuilder(10, { domain: 1, exportSecs: Math.floor(now / 1000), sequence: 0 }).template(300, fields).data(300, rows).build();
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r, j) => sock.send(pkt, ports[1]!, '127.0.0.1', (e) => (e ? j(e) : r())));
  sock.close();

  // While it runs, the embedded store is held by it: `haystack report` reads through its console.
  const day = new Date(now).toISOString().slice(0, 10);
  let report: { lines: { active: number } } | null = null;
  let lastErr = '';
  for (let i = 0; i < 60 && report?.lines.active !== 3; i++) {
    const r = spawnSync(process.execPath, [main, 'report', '--day', day, '--format', 'json'], { env, encoding: 'utf8' });
    if (r.status === 0) report = JSON.parse(r.stdout) as { lines: { active: number } };
    else lastErr = r.stderr;
    if (report?.lines.active !== 3) await new Promise((res) => setTimeout(res, 500));
  }
  assert.equal(report?.lines.active, 3, `report while running: ${lastErr}`);
  // A second console on the held store: one line naming the console that already serves it, and no chdb noise (the lock is read first).
  const second = spawnSync(process.execPath, [main, 'console', '--listen', '127.0.0.1:0'], { env, encoding: 'utf8' });
  assert.equal(second.status, 1);
  assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
  assert.match(second.stderr, /held by a running process \(pid \d+\) that serves the console itself: open http:\/\/127\.0\.0\.1:\d+/);
  assert.doesNotMatch(second.stderr, /DB::Exception/);
  const token = /^admin:(\S+)$/m.exec(readFileSync(join(state, 'console', 'tokens'), 'utf8'))![1]!;
  const page = await fetch(`${consoleUrl}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /live: today so far/);
  const api = await fetch(`${consoleUrl}/api/v1/quality`, { headers: { authorization: `Bearer ${token}` } });
  const q = (await api.json()) as { live: boolean; exporters: { records: number; version: number }[] };
  assert.equal(q.live, true);
  assert.deepEqual(
    q.exporters.map((e) => [e.version, e.records]),
    [[10, 3]],
  );
  // Another day while it collects: that day's stored figures, not the live counters.
  const past = (await (await fetch(`${consoleUrl}/api/v1/quality?day=2001-01-01`, { headers: { authorization: `Bearer ${token}` } })).json()) as typeof q;
  assert.equal(past.live, false);
  assert.deepEqual(past.exporters, []);

  // `hitlist build` while it runs: the day files are written and the running process records
  // the history from them (through its console), so the console's hitlist view shows the build.
  const rules = join(state, 'rules');
  writeFile(join(rules, 'r.yaml'), ACME_RULES);
  const pdns = writeFile(join(state, 'p.jsonl'), cof('cam.acme.com', 'A', '198.51.100.1', day));
  const b = spawnSync(process.execPath, [main, 'hitlist', 'build', '--rules', rules, '--day', day, '--pdns', pdns], { env, encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /history: recorded by the running process \(pid \d+, through its console\): 2 entry rows, \d+ class and \d+ domain decisions/);
  const hl = (await (await fetch(`${consoleUrl}/api/v1/hitlist?day=${day}`, { headers: { authorization: `Bearer ${token}` } })).json()) as HitlistBrowse;
  assert.equal(hl.day, day);
  // Two rows (one per class the entry serves) are one entry, as the report counts it.
  assert.equal(hl.entriesTotal, 1);
  assert.deepEqual(
    hl.entries.map((e) => `${e.address} ${e.transport}/${e.port} ${e.domains.join(',')}`),
    ['198.51.100.1 tcp/443 cam.acme.com'],
  );
  // A day nothing was built for is refused with the reason, and records nothing.
  const none = await fetch(`${consoleUrl}/api/v1/hitlist/days/2001-01-01/record`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(none.status, 404);
  assert.match(((await none.json()) as { message: string }).message, /no hitlist built for 2001-01-01/);

  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);

  const cfg = configSchema.parse({ stateDir: state });
  const ch = await openStore(cfg);
  try {
    const [row] = await ch.query<{ n: string | number }>(`SELECT uniqExact(line) AS n FROM ${cfg.clickhouse.database}.${TABLES.lineDays}`);
    assert.equal(Number(row!.n), 3, 'three active subscriber lines stored');
  } finally {
    await ch.close();
  }
});
