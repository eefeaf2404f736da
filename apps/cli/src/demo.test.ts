import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, silentLogger } from '@haystack/common';
import { runDemo } from './commands/demo.js';
import { openStore, TABLES } from '@haystack/store';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the embedded end-to-end run (npm start) detects the simulated ground truth', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'hs-demo-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  // Raw line ids so detections can be compared with truth.csv (the default pseudonymises them).
  const base = configSchema.parse({ log: { level: 'silent' }, detector: { rawLineIds: true } });
  const res = await runDemo({ out, seed: 7, lines: 400, sampling: 100, day: '2026-11-20', rulesDir: join(root, 'rules') }, base, silentLogger, () => {});
  assert.ok(existsSync(res.report), 'the HTML report is written');
  const html = readFileSync(res.report, 'utf8');
  assert.match(html, /<svg/);
  assert.equal(res.detector.undecodable, 0);
  assert.ok(res.detector.flows > 0 && res.detector.matched > 0);

  const truth = new Set<string>();
  for (const row of readFileSync(join(res.simDir, 'truth.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [line, cls] = row.split(',');
    truth.add(`${line}\t${cls}`);
  }
  const cfg = configSchema.parse({ stateDir: join(out, 'state') });
  const db = cfg.clickhouse.database;
  const counts = async () => {
    const ch = await openStore(cfg);
    try {
      const [q] = await ch.query<{ flows: string; health: string; detections: string }>(
        `SELECT (SELECT sum(records) FROM ${db}.${TABLES.flowQuality} FINAL) AS flows,
                (SELECT sum(records) FROM ${db}.${TABLES.ingestHealth} FINAL) AS health,
                (SELECT count() FROM ${db}.${TABLES.detections} FINAL) AS detections`,
      );
      const detected = await ch.query<{ line: string; class_id: string }>(
        `SELECT DISTINCT line, class_id FROM ${db}.${TABLES.detections} WHERE window = 'day'`,
      );
      return { flows: Number(q!.flows), health: Number(q!.health), detections: Number(q!.detections), detected };
    } finally {
      await ch.close();
    }
  };
  const first = await counts();
  const detected = first.detected;
  assert.ok(first.flows > 0 && first.health === first.flows, `stored flows ${first.flows}, per-exporter records ${first.health}`);

  // Running it again (npm start twice) replays the same capture: no count may change.
  await runDemo({ out, seed: 7, lines: 400, sampling: 100, day: '2026-11-20', rulesDir: join(root, 'rules') }, base, silentLogger, () => {});
  const again = await counts();
  assert.deepEqual([again.flows, again.health, again.detections], [first.flows, first.health, first.detections]);
  assert.ok(detected.length > 50, `${detected.length} daily detections`);
  // A detection names a line the simulation gave that device (IPv6 lines as their /56).
  const right = detected.filter((d) => truth.has(`${d.line}\t${d.class_id}`)).length;
  const precision = right / detected.length;
  assert.ok(precision > 0.9, `precision ${precision.toFixed(3)} (${right}/${detected.length})`);
  // And most detectable truth is found within the day at 1:100.
  const detectedSet = new Set(detected.map((d) => `${d.line}\t${d.class_id}`));
  const truthDetectable = [...truth].filter((k) => detected.some((d) => d.class_id === k.split('\t')[1]));
  const found = truthDetectable.filter((k) => detectedSet.has(k)).length;
  assert.ok(found / truthDetectable.length > 0.6, `recall ${(found / truthDetectable.length).toFixed(3)} (${found}/${truthDetectable.length})`);
});

test('haystack demo shows how far its replay got on a terminal, its steps in order, and no log lines', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'haystack-demo-tty-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const main = join(root, 'apps', 'cli', 'dist', 'main.js');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('HAYSTACK_')) env[k] = v;
  // `script` gives the command a pseudo-terminal, as an operator's shell would.
  const r = spawnSync(
    'script',
    ['-qefc', `${JSON.stringify(process.execPath)} ${JSON.stringify(main)} demo --lines 40 --out ${JSON.stringify(out)}`, '/dev/null'],
    {
      env: { ...env, HAYSTACK_STATE_DIR: join(out, 'default-state') },
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const text = r.stdout.replace(/\r/g, '\n');
  assert.match(text, /replay \|[█░]+\| 100% \| \d{1,3}(,\d{3})* datagrams/);
  const steps = ['simulating 40 subscriber lines', 'building the hitlist of', 'replaying the exports', 'datagrams,', 'the HTML report:'].map((s) =>
    text.indexOf(s),
  );
  assert.ok(
    steps.every((i, k) => i >= 0 && (k === 0 || i > steps[k - 1]!)),
    `steps in order: ${steps.join(', ')}`,
  );
  assert.doesNotMatch(text, /"level":|\bINFO\b/, 'no log lines among the narration');
});
