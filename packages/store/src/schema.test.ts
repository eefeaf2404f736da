import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '@haystack/clickhouse';
import { ensureSchema, TABLES, VIEWS } from './index.js';

const retention = { evidenceDays: 30, detectionDays: 400, qualityDays: 90 };

test('ensureSchema on embedded ClickHouse: every table and view of every part, idempotent, migrations applied in place', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'store-schema-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ch = await openClickHouse({ dataDir: dir, database: 'store_schema' });
  t.after(() => ch.close());
  const names = async () =>
    (await ch.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name', { db: ch.database })).map((r) => r.name);

  // A store from before sFlow: the health table without its two sFlow columns.
  await ch.ensureDatabase();
  await ch.command(
    `CREATE TABLE ${ch.database}.${TABLES.ingestHealth} (day Date, at DateTime64(3, 'UTC'), snapshot_id String, exporter String, lost UInt64)
     ENGINE = ReplacingMergeTree ORDER BY (day, exporter, snapshot_id)`,
  );
  const parts = { detector: retention, hitlistHistory: true, pdns: { retentionDays: 30 }, console: true, replay: { retentionDays: 90 } };
  await ensureSchema(ch, parts);
  await ensureSchema(ch, parts); // again: nothing fails, nothing changes
  assert.deepEqual(await names(), [...Object.values(TABLES), ...Object.values(VIEWS)].sort());
  const cols = await ch.query<{ name: string }>('SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}', {
    db: ch.database,
    t: TABLES.ingestHealth,
  });
  assert.ok(
    ['samples_lost', 'sample_drops'].every((c) => cols.some((x) => x.name === c)),
    cols.map((c) => c.name).join(','),
  );

  // Only the parts asked for: a console alone creates its own tables and nothing else.
  const other = await openClickHouse({ dataDir: dir, database: 'store_console_only' });
  t.after(() => other.close());
  await ensureSchema(other, { console: true });
  const own = (await other.query<{ name: string }>('SELECT name FROM system.tables WHERE database = {db:String}', { db: other.database })).map((r) => r.name);
  assert.deepEqual(own.sort(), [TABLES.consoleDayCounts, TABLES.consoleLookupAudit, TABLES.consoleReports, TABLES.consoleTtdDays].sort());
});
