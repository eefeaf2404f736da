import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openClickHouse } from '@haystack/clickhouse';
import { writeHitlistJson } from '@haystack/hitlist';
import { startKafkaMock } from '@haystack/testkit/kafka-mock';
import { freePort } from '@haystack/testkit/ports';
import { KafkaFlowSink } from '@haystack/transport';
import { IE, PacketBuilder } from '@haystack/decoders';
import { PcapWriter } from '@haystack/pcap';
import { CAM1, CAM2, DAY, DAY_START, H, makeBatch, storedCounts, tempDir, testHitlist, toService, waitFor } from '@haystack/detector/test-helpers';

/**
 * The `haystack detect` command as operators run it (the built binary, apps/cli): refusal
 * without a line key in distributed mode, a Kafka consumer with its metrics endpoint and a
 * clean SIGTERM, and the embedded replay from simulated exports to the report.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');
const tmp = tempDir('detector-cli-');
after(tmp.cleanup);

const baseEnv = (stateDir: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  // Only what the test sets: no HAYSTACK_* from the caller's environment.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HAYSTACK_')) env[k] = v;
  return {
    ...env,
    HAYSTACK_STATE_DIR: stateDir,
    HAYSTACK_LOG_LEVEL: 'warn',
    HAYSTACK_METRICS__LISTEN: 'null',
    HAYSTACK_DETECTOR__RULES_DIR: join(repoRoot, 'rules'),
  };
};

test('haystack detect refuses to start with Kafka but without a line key, and embedded without flows', () => {
  assert.ok(existsSync(main), `${main} missing: build the CLI first (npx tsc -b apps/cli)`);
  const env = { ...baseEnv(join(tmp.dir, 'refuse')), HAYSTACK_KAFKA__BROKERS: '127.0.0.1:1' };
  const r = spawnSync(process.execPath, [main, 'detect'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /detector\.lineKey is not set: with Kafka/);
  const e = spawnSync(process.execPath, [main, 'detect'], { env: baseEnv(join(tmp.dir, 'refuse2')), encoding: 'utf8', timeout: 60_000 });
  assert.equal(e.status, 2);
  assert.match(e.stderr, /no flows to detect on/);
});

test('haystack detect on Kafka: consumes the group, serves metrics, stops cleanly on SIGTERM, stores everything once', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 2 }] });
  t.after(() => mock.stop());
  const stateDir = join(tmp.dir, 'kafka');
  const hitlistDir = join(stateDir, 'hitlist', DAY);
  mkdirSync(hitlistDir, { recursive: true });
  await writeHitlistJson(join(hitlistDir, 'hitlist.json'), testHitlist());
  const kafka = { brokers: mock.bootstrap, clientId: 't', flowTopic: 'flows', acks: -1 as const, compression: 'none' as const, consumerGroup: 'det' };
  const sink = await KafkaFlowSink.connect({ kafka });
  const t0 = DAY_START + 9 * H;
  const batches = [
    makeBatch([toService('100.64.0.1', CAM1, t0), toService('100.64.0.2', '203.0.113.9', t0)]),
    makeBatch([toService('100.64.0.3', CAM2, t0 + H)]),
    makeBatch([toService('100.64.0.1', CAM2, t0 + 2 * H), toService('100.64.0.4', '203.0.113.9', t0)]),
  ];
  for (const [i, b] of batches.entries()) await sink.publish(i % 2, b);
  await sink.close();

  const key = 'cli-test-line-key-0123456789abcdef';
  const port = await freePort();
  const child = spawn(process.execPath, [main, 'detect'], {
    env: {
      ...baseEnv(stateDir),
      HAYSTACK_KAFKA__BROKERS: mock.bootstrap.join(','),
      HAYSTACK_KAFKA__FLOW_TOPIC: 'flows',
      HAYSTACK_KAFKA__CONSUMER_GROUP: 'det',
      HAYSTACK_DETECTOR__LINE_KEY: key,
      HAYSTACK_METRICS__LISTEN: `127.0.0.1:${port}`,
      HAYSTACK_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const metric = async (name: string): Promise<number | null> => {
    try {
      const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(body);
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  };
  await waitFor(
    async () => (await metric('haystack_detector_batches_total')) === batches.length,
    `all batches through the detector (stderr: ${stderr.slice(-2000)})`,
    90_000,
  );
  assert.equal(await metric('haystack_detector_flows_total'), 5);
  assert.equal(await metric('haystack_detector_flows_matched_total'), 3);
  assert.equal(await metric('haystack_detector_undecodable_batches_total'), 0);
  // The group's lag as the detector sees it, per partition: caught up on both.
  const lagBody = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.deepEqual(
    [...lagBody.matchAll(/^haystack_detector_kafka_lag_batches\{partition="(\d+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]).sort(),
    [
      ['0', 0],
      ['1', 0],
    ],
    lagBody
      .split('\n')
      .filter((l) => l.includes('lag'))
      .join('\n'),
  );
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /detector: 3 batches, 5 flows, 3 matched/);
  assert.ok(!stderr.includes(key), 'the line key is never logged');

  const ch = await openClickHouse({ dataDir: join(stateDir, 'chdb'), database: 'haystack' });
  const c = await storedCounts(ch);
  await ch.close();
  assert.equal(c.quality.records, 5);
  assert.equal(c.evidence.flows, 3);
  assert.equal(c.activeLines, 4);
  const daily = c.detections.filter((d) => d.window === 'day' && d.class_id === 'acme-cam' && d.via === 'acme-cam');
  assert.equal(daily.length, 2, 'two lines, each detected once');
  assert.ok(
    daily.every((d) => /^[0-9a-f]{32}$/.test(d.line)),
    'pseudonymised line ids',
  );
});

test('haystack detect --replay (embedded): simulated exports → ingest → detector → chdb, then haystack report', () => {
  const dir = join(tmp.dir, 'replay');
  const stateDir = join(dir, 'state');
  const env = baseEnv(stateDir);
  const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
  mkdirSync(dir, { recursive: true });
  const sim = run(
    'simulate',
    '--out',
    join(dir, 'sim'),
    '--lines',
    '300',
    '--hours',
    '2',
    '--start-day',
    DAY,
    '--seed',
    '7',
    '--rules',
    join(repoRoot, 'rules'),
  );
  assert.equal(sim.status, 0, sim.stderr);
  // The simulated ISP's subscriber space, for the ingest side flag.
  copyFileSync(join(dir, 'sim', 'haystack.yaml'), join(dir, 'haystack.yaml'));
  const b = run(
    '-c',
    'haystack.yaml',
    'hitlist',
    'build',
    '--day',
    DAY,
    '--pdns',
    join(dir, 'sim', 'pdns.jsonl'),
    '--certs',
    join(dir, 'sim', 'certs.jsonl'),
    '--rules',
    join(repoRoot, 'rules'),
  );
  assert.equal(b.status, 0, b.stderr);
  const d = run('-c', 'haystack.yaml', 'detect', '--replay', join(dir, 'sim', 'exports.pcap'), '--json');
  assert.equal(d.status, 0, d.stderr);
  const s = JSON.parse(d.stdout.trim().split('\n').at(-1)!) as {
    detector: { flows: number; matched: number; detections: { day: number }; undecodable: number; healthSnapshots: number };
  };
  assert.ok(s.detector.flows > 0 && s.detector.matched > 0 && s.detector.detections.day > 0, d.stdout);
  assert.equal(s.detector.undecodable, 0);
  assert.ok(s.detector.healthSnapshots > 0, 'ingest health snapshots reached the detector');
  const rep = run('-c', 'haystack.yaml', 'report', '--day', DAY, '--format', 'json');
  assert.equal(rep.status, 0, rep.stderr);
  const r = JSON.parse(rep.stdout) as {
    lines: { active: number; withAnyDetection: number };
    classes: { detectedLines: number; parents: string[]; level: string }[];
    quality: { flowsTotal: number; exporters: { sequenceGaps: number | null }[] };
  };
  assert.ok(r.lines.active > 0 && r.lines.withAnyDetection > 0);
  assert.equal(r.quality.flowsTotal, s.detector.flows);
  assert.ok(r.quality.exporters.length > 0 && r.quality.exporters.every((e) => e.sequenceGaps !== null), 'health joined to the exporters');
  assert.ok(
    r.classes.some((c) => c.level === 'product' && c.detectedLines > 0 && c.parents.length > 0),
    'products with their parents from the dictionary',
  );
  // The same capture again: nothing new, and the command says why instead of "0 detections".
  const again = run('-c', 'haystack.yaml', 'detect', '--replay', join(dir, 'sim', 'exports.pcap'));
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, / 0 daily and \d+ hourly detections/);
  assert.match(again.stdout, /this capture was already stored by an earlier run: its flows and detections count once, so nothing is new/);
  const rep2 = JSON.parse(run('-c', 'haystack.yaml', 'report', '--day', DAY, '--format', 'json').stdout) as typeof r;
  assert.deepEqual([rep2.lines, rep2.quality.flowsTotal], [r.lines, r.quality.flowsTotal], 'counted once');
});

test('haystack detect exits non-zero, naming the cause, when its Kafka consumer fails for good (supervisor restarts it)', async (t) => {
  const mock = await startKafkaMock({ topics: [{ name: 'flows', partitions: 1 }] });
  t.after(() => mock.stop());
  const stateDir = join(tmp.dir, 'kafka-denied');
  const hitlistDir = join(stateDir, 'hitlist', DAY);
  mkdirSync(hitlistDir, { recursive: true });
  await writeHitlistJson(join(hitlistDir, 'hitlist.json'), testHitlist());
  await mock.command('errors 11 30'); // JoinGroup: GROUP_AUTHORIZATION_FAILED
  const child = spawn(process.execPath, [main, 'detect'], {
    env: {
      ...baseEnv(stateDir),
      HAYSTACK_KAFKA__BROKERS: mock.bootstrap.join(','),
      HAYSTACK_KAFKA__FLOW_TOPIC: 'flows',
      HAYSTACK_KAFKA__CONSUMER_GROUP: 'denied',
      HAYSTACK_DETECTOR__LINE_KEY: 'cli-test-line-key-0123456789abcdef',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 90_000))),
  ]).finally(() => clearTimeout(timer));
  assert.equal(code, 1, `exit code (stderr: ${stderr.slice(-2000)})`);
  assert.match(stderr, /consumer of group 'denied' stopped: .*[Aa]uthoriz/);
});

test('haystack detect --replay interrupted (SIGINT to the command): says so, stores what was read, exits 130, no error lines', async () => {
  const dir = join(tmp.dir, 'interrupt');
  mkdirSync(dir, { recursive: true });
  // 120,000 NetFlow v9 datagrams: long enough to be interrupted on any machine.
  const capture = join(dir, 'exports.pcap');
  const w = await PcapWriter.create(capture);
  const fields = [
    { id: IE.sourceIPv4Address, length: 4 },
    { id: IE.destinationIPv4Address, length: 4 },
    { id: IE.packetDeltaCount, length: 4 },
  ];
  for (let i = 0; i < 120_000; i++) {
    const pkt = new PacketBuilder(9, { domain: 0, exportSecs: 1_763_600_000 + (i >> 10), sequence: i, uptimeMs: 1000 })
      .template(256, fields)
      .data(256, [[`100.64.${(i >> 8) & 255}.${i & 255}`, CAM1, 3]])
      .build();
    await w.writeUdp({ tsMs: 1_763_600_000_000 + i, src: '192.0.2.1', srcPort: 40000, dst: '127.0.0.1', dstPort: 2055, payload: pkt });
  }
  await w.close();
  const env = { ...baseEnv(join(dir, 'state')), HAYSTACK_LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [join(repoRoot, 'apps', 'cli', 'bin', 'haystack.js'), 'detect', '--replay', capture], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  // SIGINT to the launcher's pid (kill -INT), once the detector has started.
  await waitFor(() => err.includes('detector starting'), 'the detector to start', 60_000);
  child.kill('SIGINT');
  assert.equal(await exited, 130, err);
  assert.match(err, /interrupted: storing the flows read so far, then stopping/);
  assert.match(
    err,
    /haystack: interrupted after \d{1,3}(,\d{3})* datagrams \(\d+ % of the file\): what was read is stored; .*exports\.pcap is only partly replayed: run the same command again to complete it/,
  );
  assert.equal(out, '', 'no summary as if it had finished');
  const errors = err.split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60') || /\n\s+at /.test(l));
  assert.deepEqual(errors, [], 'stopped quietly');
});

test('haystack detect --replay shows its progress on a terminal, and none in a pipe', () => {
  const capture = join(repoRoot, 'packages', 'decoders', 'testdata', 'softflowd-v9.pcap');
  const env = { ...baseEnv(join(tmp.dir, 'progress')), HAYSTACK_DETECTOR__RAW_LINE_IDS: 'true' };
  // `script` gives the command a pseudo-terminal, as an operator's shell would.
  const tty = spawnSync(
    'script',
    ['-qefc', `${JSON.stringify(process.execPath)} ${JSON.stringify(main)} detect --replay ${JSON.stringify(capture)}`, '/dev/null'],
    {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(tty.status, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, /detect \|[█░]+\| 100% \| 23 datagrams/);
  const pipe = spawnSync(process.execPath, [main, 'detect', '--replay', capture], {
    env: { ...env, HAYSTACK_STATE_DIR: join(tmp.dir, 'progress2') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(pipe.status, 0, pipe.stderr);
  assert.doesNotMatch(pipe.stderr + pipe.stdout, /detect \|/);
  assert.match(pipe.stdout, /replayed 23 datagrams/);
});
