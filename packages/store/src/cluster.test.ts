import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openClickHouse } from '@haystack/clickhouse';
import { clusterStatements, dropPartitionSql } from './cluster.js';
import { schemaDDL, type SchemaParts } from './schema.js';
import { TABLES } from './tables.js';

/**
 * Cluster mode's DDL (no server new enough to run a cluster installs here): every statement
 * parses with the embedded engine's parser — the server's dialect — and equals its golden file
 * (testdata/cluster/; UPDATE_GOLDEN=1 writes them after a deliberate change).
 */
const golden = join(dirname(fileURLToPath(import.meta.url)), '..', 'testdata', 'cluster');
const ALL: SchemaParts = {
  detector: { evidenceDays: 35, detectionDays: 400, qualityDays: 400 },
  hitlistHistory: true,
  pdns: { retentionDays: 90 },
  console: true,
  replay: { retentionDays: 400 },
};
const dir = mkdtempSync(join(tmpdir(), 'cluster-ddl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, shards] of [
  ['one-shard', 1],
  ['two-shards', 2],
] as const) {
  test(`cluster DDL (${name}): every statement parses as ClickHouse SQL and equals its golden file`, async () => {
    const stmts = clusterStatements('haystack', schemaDDL('haystack', ALL), { name: 'haystack_cluster', shards });
    const text = `${stmts.map((s) => `${s.replace(/\n\s+/g, '\n  ')};`).join('\n\n')}\n`;
    const file = join(golden, `${name}.sql`);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    assert.equal(text, readFileSync(file, 'utf8'), `${file} is stale: UPDATE_GOLDEN=1 after checking the difference`);
    const ch = await openClickHouse({ dataDir: join(dir, name), database: 'haystack' });
    try {
      for (const s of [...stmts, dropPartitionSql('haystack', TABLES.hitlistEntries, { name: 'haystack_cluster', shards }).replace('{p:UInt32}', '20261120')]) {
        const ast = await ch.query<{ explain: string }>(`EXPLAIN AST ${s}`);
        assert.ok(ast.length > 0, s);
      }
    } finally {
      await ch.close();
    }
    // Every statement runs on the cluster and is idempotent.
    for (const s of stmts) {
      assert.match(s, /ON CLUSTER haystack_cluster/, s);
      assert.match(s, /IF NOT EXISTS|MODIFY TTL/, s);
    }
    const engines = stmts.filter((s) => /^CREATE TABLE/.test(s) && !/Distributed\(/.test(s));
    assert.ok(engines.every((s) => /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/haystack\/\w+', '\{replica\}'/.test(s)));
    const distributed = stmts.filter((s) => /ENGINE = Distributed\(/.test(s));
    if (shards === 1) assert.equal(distributed.length, 0);
    else {
      assert.equal(distributed.length, engines.length);
      // What is aggregated per line stays on one shard.
      for (const t of [TABLES.evidence, TABLES.detections, TABLES.lineDays, TABLES.backendTraffic, TABLES.ixpUnits])
        assert.ok(
          distributed.some((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS haystack.${t} ON CLUSTER`) && s.endsWith('cityHash64(line))')),
          t,
        );
      // Views read and feed their own shard's local tables.
      assert.ok(stmts.some((s) => /MATERIALIZED VIEW[^]*TO haystack\.detector_detected_lines_local[^]*FROM haystack\.detector_detections_local/.test(s)));
    }
  });
}

test('a server-less cluster is refused: the embedded engine is one process', async () => {
  await assert.rejects(
    openClickHouse({ dataDir: join(dir, 'x'), database: 'haystack', cluster: { name: 'c', shards: 2 } }),
    /clickhouse\.cluster needs a ClickHouse server/,
  );
});
