import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { loadConfig } from '@haystack/common';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('docker-compose.yml is valid for docker-compose and wires the services by configuration alone', () => {
  // Debian's docker-compose validates and resolves the file without a Docker engine.
  const out = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
    env: { ...process.env, CLICKHOUSE_PASSWORD: 'test-only', DETECTOR_LINE_KEY: 'test-only-key-0123456789', GRAFANA_ADMIN_PASSWORD: 'test-only' },
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
  const env: NodeJS.ProcessEnv = { ...process.env, DETECTOR_LINE_KEY: 'k', GRAFANA_ADMIN_PASSWORD: 'g' };
  delete env.CLICKHOUSE_PASSWORD;
  assert.throws(() => execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], { env, stdio: 'pipe' }), /CLICKHOUSE_PASSWORD/);
});

test('compose ships the console, Prometheus with the alert rules and Grafana with the dashboards, loopback-only and without secrets', () => {
  const out = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
    env: { ...process.env, CLICKHOUSE_PASSWORD: 'x', DETECTOR_LINE_KEY: 'y'.repeat(32), GRAFANA_ADMIN_PASSWORD: 'z' },
    encoding: 'utf8',
  });
  const s = (parse(out) as { services: Record<string, { command?: string[]; ports?: unknown[]; volumes?: unknown[] }> }).services;
  assert.deepEqual(s.console!.command, ['console', '--listen', '0.0.0.0:8470']);
  for (const name of ['console', 'prometheus', 'grafana']) assert.match(JSON.stringify(s[name]!.ports), /127\.0\.0\.1/, `${name} published on loopback only`);
  assert.match(JSON.stringify(s.prometheus!.volumes), /deploy\/prometheus/);
  assert.match(JSON.stringify(s.grafana!.volumes), /deploy\/grafana\/dashboards/);
});

test('every metric an alert rule or a dashboard names is one Haystack exports', async () => {
  const { createRegistry } = await import('@haystack/common');
  const { FlowDecoder } = await import('@haystack/decoders');
  const { Publisher, registerIngestMetrics } = await import('@haystack/ingest');
  const { registerConsumerLagMetric, registerDetectorMetrics } = await import('@haystack/detector');
  const { registerPdnsMetrics } = await import('@haystack/pdns-service');
  const { CountingSink } = await import('@haystack/transport');
  const { silentLogger } = await import('@haystack/common');
  const { PrefixSet } = await import('@haystack/common');
  const reg = createRegistry(false);
  const decoder = new FlowDecoder();
  registerIngestMetrics(reg, {
    decoder,
    publisher: new Publisher({ sink: new CountingSink(1), subscriberPrefixes: new PrefixSet([]), ipv6LinePrefixLength: 56, maxRecords: 16, log: silentLogger }),
    sockets: () => [],
    refused: () => 0,
  });
  registerDetectorMetrics(reg, () => ({}) as never);
  registerConsumerLagMetric(reg, () => []);
  registerPdnsMetrics(reg, { counters: {} } as never);
  const known = new Set((await reg.getMetricsAsJSON().catch(() => [])).map((m) => m.name));
  for (const m of reg.getMetricsAsArray()) known.add((m as unknown as { name: string }).name);
  const rules = parse(readFileSync(join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const texts = rules.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const));
  for (const f of ['quality.json', 'detections.json', 'trends.json']) {
    const d = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'dashboards', f), 'utf8')) as {
      panels: { title: string; targets: { expr?: string }[] }[];
    };
    for (const p of d.panels) for (const t of p.targets) if (t.expr) texts.push([`${f}: ${p.title}`, t.expr]);
  }
  assert.ok(texts.length >= 15);
  for (const [where, expr] of texts)
    for (const name of expr.match(/haystack_[a-z0-9_]+/g) ?? []) assert.ok(known.has(name), `${where}: ${name} is not a Haystack metric`);
});

test('the systemd units (deploy/systemd) are valid and run what the README says', () => {
  const dir = join(root, 'deploy', 'systemd');
  const units = ['haystack.service', 'haystack-hitlist.service', 'haystack-hitlist.timer'].map((u) => join(dir, u));
  // systemd's own checker: syntax, known directives, the timer's service. Throws (non-zero) on an error.
  const out = execFileSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out.trim(), '');
  const run = readFileSync(units[0]!, 'utf8');
  assert.match(run, /^ExecStart=\/usr\/bin\/node \/opt\/haystack\/apps\/cli\/bin\/haystack\.js run$/m);
  assert.match(run, /^Environment=HAYSTACK_CONFIG=\/etc\/haystack\/haystack\.yaml$/m);
  assert.match(readFileSync(units[1]!, 'utf8'), /hitlist build --day "\$\(date -u -d yesterday \+%%F\)"/);
  assert.match(readFileSync(units[2]!, 'utf8'), /^OnCalendar=\*-\*-\* 00:30:00 UTC$/m);
});

test('docker-compose.cluster.yml: three KRaft brokers, two ClickHouse shards of two replicas with three Keepers, collectors and detectors wired for the cluster', () => {
  const out = execFileSync('docker-compose', ['-f', join(root, 'docker-compose.cluster.yml'), 'config'], {
    env: { ...process.env, CLICKHOUSE_PASSWORD: 'test-only', DETECTOR_LINE_KEY: 'test-only-key-0123456789' },
    encoding: 'utf8',
  });
  type Service = {
    image?: string;
    build?: unknown;
    command?: string[];
    environment?: Record<string, string>;
    deploy?: { replicas?: number };
    volumes?: string[];
  };
  const s = (parse(out) as { services: Record<string, Service> }).services;
  const names = Object.keys(s);
  const kafka = names.filter((n) => /^kafka-\d$/.test(n));
  assert.equal(kafka.length, 3, 'three brokers');
  assert.ok(!names.some((n) => /zookeeper/i.test(n)), 'KRaft: no ZooKeeper');
  const voters = new Set(kafka.map((n) => s[n]!.environment!.KAFKA_CONTROLLER_QUORUM_VOTERS));
  assert.equal(voters.size, 1, 'one controller quorum');
  assert.deepEqual(new Set(kafka.map((n) => String(s[n]!.environment!.KAFKA_NODE_ID))), new Set(['1', '2', '3']));
  assert.equal(new Set(kafka.map((n) => s[n]!.environment!.CLUSTER_ID)).size, 1, 'one Kafka cluster id');
  assert.match(String(s['kafka-init']!.command), /--replication-factor 3/);

  // The servers' macros match the cluster the XML declares, and the services' clickhouse.cluster.
  const xml = readFileSync(join(root, 'deploy', 'clickhouse-cluster', 'cluster.xml'), 'utf8');
  const shardsXml = [...xml.matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((m) => [...m[1]!.matchAll(/<host>([^<]+)<\/host>/g)].map((h) => h[1]));
  const servers = names.filter((n) => /^ch-/.test(n));
  assert.equal(servers.length, 4);
  assert.equal(shardsXml.length, 2, 'two shards in remote_servers');
  assert.ok(
    shardsXml.every((r) => r.length === 2),
    'two replicas each',
  );
  for (const n of servers) {
    const e = s[n]!.environment!;
    assert.ok(
      shardsXml[Number(e.SHARD) - 1]!.includes(e.REPLICA),
      `${n}: its macros (shard ${e.SHARD}, replica ${e.REPLICA}) are where remote_servers puts it`,
    );
    assert.ok(s[n]!.volumes!.some((v) => v.includes('cluster.xml')));
  }
  const keepers = names.filter((n) => /^keeper-\d$/.test(n));
  assert.equal(keepers.length, 3, 'three Keepers');
  const keeperXml = readFileSync(join(root, 'deploy', 'clickhouse-cluster', 'keeper.xml'), 'utf8');
  for (const k of keepers)
    assert.ok(keeperXml.includes(`<hostname>${k}</hostname>`) && xml.includes(`<host>${k}</host>`), `${k} in the Raft and server configs`);

  const clusterName = /<remote_servers>\s*<(\w+)>/.exec(xml)![1];
  const ingest = names.filter((n) => /^ingest-\d$/.test(n));
  assert.ok(ingest.length >= 2, 'several collectors');
  const ingestNames = new Set<string | null>();
  for (const n of [...ingest, 'detector', 'console', 'hitlist']) {
    assert.ok(s[n]!.build, `${n} is built from this repository`);
    const cfg = loadConfig({ env: s[n]!.environment });
    assert.deepEqual(cfg.clickhouse.cluster, { name: clusterName, shards: shardsXml.length }, `${n}: clickhouse.cluster`);
    assert.deepEqual(cfg.kafka.brokers, ['kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092']);
    if (ingest.includes(n)) {
      assert.equal(cfg.ingest.templates.persist, 'redis', `${n} shares templates`);
      ingestNames.add(cfg.ingest.name);
    }
  }
  assert.equal(ingestNames.size, ingest.length, 'each collector its own name');
  assert.ok((s.detector!.deploy?.replicas ?? 1) >= 2, 'several detectors in one group');
});
