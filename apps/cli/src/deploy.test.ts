import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { loadConfig } from '@haystack/common';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('docker-compose.yml is valid for docker-compose and wires the services by configuration alone', () => {
  // Debian's docker-compose validates and resolves the file without a Docker engine.
  const out = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
    env: { ...process.env, CLICKHOUSE_PASSWORD: 'test-only', DETECTOR_LINE_KEY: 'test-only-key-0123456789' },
    encoding: 'utf8',
  });
  const doc = parse(out) as { services: Record<string, { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string> }> };
  const s = doc.services;
  for (const name of ['kafka', 'clickhouse', 'redis', 'ingest', 'hitlist', 'detector', 'pdns']) assert.ok(s[name], `service ${name}`);
  assert.ok(!Object.keys(s).some((n) => /zookeeper/i.test(n)), 'KRaft: no ZooKeeper');
  assert.match(s.kafka!.environment!.KAFKA_PROCESS_ROLES!, /controller/);
  for (const name of ['ingest', 'hitlist', 'detector']) {
    assert.ok(s[name]!.build, `${name} is built from this repository`);
    const cfg = loadConfig({ env: s[name]!.environment });
    assert.deepEqual(cfg.kafka.brokers, ['kafka:9092'], `${name} uses Kafka`);
    assert.equal(cfg.redis.url, 'redis://redis:6379');
    assert.equal(cfg.clickhouse.url, 'http://clickhouse:8123');
    assert.equal(cfg.metrics.listen, '0.0.0.0:9464');
  }
  assert.deepEqual(s.ingest!.command, ['ingest']);
  assert.deepEqual(s.detector!.command, ['detect']);
  assert.equal(loadConfig({ env: s.detector!.environment }).detector.lineKey, 'test-only-key-0123456789');
  assert.match(s.hitlist!.command!.join(' '), /hitlist build --day "\$+\(date -u \+%F\)" --pdns-store "\$+@"/);
  // The resolvers' passive DNS: the pdns service on the ClickHouse server, the hitlist job reading it.
  assert.deepEqual(s.pdns!.command, ['pdns', 'serve', '--tcp', '0.0.0.0:6000']);
  assert.equal(loadConfig({ env: s.pdns!.environment }).clickhouse.url, 'http://clickhouse:8123');
  assert.ok(s.report, 'a daily report job');
  assert.match(s.report!.command!.join(' '), /report --day "\$+day" --format "\$+fmt"/);

  // The hitlist job's shell, run once: every input file becomes an argument (a glob of two files once failed).
  const inputs = mkdtempSync(join(tmpdir(), 'hs-compose-'));
  try {
    for (const f of ['pdns/a.jsonl', 'pdns/b.jsonl.gz', 'certs/c.jsonl']) {
      mkdirSync(dirname(join(inputs, f)), { recursive: true });
      writeFileSync(join(inputs, f), '');
    }
    const once = s
      .hitlist!.command!.join(' ')
      .replaceAll('$$', '$')
      .replace('while :; do', '')
      .replace(/sleep 3600; done\s*$/, '')
      .replaceAll('/var/lib/haystack/inputs', inputs)
      .replace('node apps/cli/dist/main.js', 'printf "%s\\n"');
    const args = execFileSync('sh', ['-c', once], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(args.slice(4), [
      '--pdns-store',
      '--pdns',
      join(inputs, 'pdns/a.jsonl'),
      '--pdns',
      join(inputs, 'pdns/b.jsonl.gz'),
      '--certs',
      join(inputs, 'certs/c.jsonl'),
    ]);
  } finally {
    rmSync(inputs, { recursive: true, force: true });
  }
  const ingestCfg = loadConfig({ env: s.ingest!.environment });
  assert.equal(ingestCfg.ingest.templates.persist, 'redis', 'load-balanced collectors share templates through Redis');
  assert.deepEqual(ingestCfg.ingest.subscriberPrefixes, ['100.64.0.0/10']);
});

test('docker-compose refuses to start without the ClickHouse password (no secret in the file)', () => {
  const env: NodeJS.ProcessEnv = { ...process.env, DETECTOR_LINE_KEY: 'k' };
  delete env.CLICKHOUSE_PASSWORD;
  assert.throws(() => execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], { env, stdio: 'pipe' }), /CLICKHOUSE_PASSWORD/);
});
