import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { openClickHouse, type ClickHouseStore } from '@haystack/clickhouse';
import { defaultConfig, silentLogger, type HaystackConfig } from '@haystack/common';
import { captureId } from '@haystack/ingest';
import { PcapWriter, readUdp } from '@haystack/pcap';
import { TABLES } from '@haystack/store';
import { qualityFindings, queryReportData, renderText } from '@haystack/report';
import { replayIntoStore } from './replay-once.js';

/**
 * A replay's identity is the exports themselves: the same export datagrams are stored once
 * however the file holds them (plain, gzip, zstd, cut short, split in two and replayed in either
 * order) and whatever the batch size; an overlapping capture adds only what is new.
 */
const capture = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'decoders', 'testdata', 'softflowd-v9.pcap');
const dir = mkdtempSync(join(tmpdir(), 'hs-replay-once-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function config(maxRecords = 4096): HaystackConfig {
  const c = defaultConfig();
  c.stateDir = join(dir, 'state');
  c.detector.rawLineIds = true;
  c.ingest.subscriberPrefixes = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
  c.ingest.batch = { ...c.ingest.batch, maxRecords };
  // The capture is from 2024: keep its rows (the TTL would drop them on insert).
  c.detector.retention = { evidenceDays: 10_000, detectionDays: 10_000, qualityDays: 10_000 };
  return c;
}

/** Datagrams [from, to) of the capture as a pcap of their own. */
async function slice(name: string, from: number, to: number): Promise<string> {
  const path = join(dir, name);
  const w = await PcapWriter.create(path);
  let i = 0;
  for await (const d of readUdp(capture)) {
    if (i >= from && i < to)
      await w.writeUdp({ tsMs: d.tsMs, src: d.src, srcPort: d.srcPort, dst: d.dst, dstPort: d.dstPort, payload: Buffer.from(d.payload) });
    i++;
  }
  await w.close();
  return path;
}

const stored = async (ch: ClickHouseStore) =>
  Number((await ch.query<{ n: string }>(`SELECT sum(records) AS n FROM ${ch.database}.${TABLES.flowQuality} FINAL`))[0]?.n ?? 0);

async function replay(ch: ClickHouseStore, file: string, c = config()) {
  const { result } = await replayIntoStore({ config: c, log: silentLogger, store: ch, file, replayId: await captureId(file), pipeline: { metrics: false } });
  return result;
}

let n = 0;
async function freshStore(): Promise<ClickHouseStore> {
  return openClickHouse({ dataDir: join(dir, 'chdb'), database: `replay_once_${++n}` });
}

test('the same exports count once: plain, gzip, zstd, a cut copy and another batch size add nothing', async (t) => {
  const ch = await freshStore();
  t.after(() => ch.close());
  const first = await replay(ch, capture);
  assert.ok(first.datagrams > 20 && first.alreadyStored === 0, `${first.datagrams} datagrams`);
  const all = await stored(ch);
  assert.ok(all > 500, `${all} records stored`);

  const gz = join(dir, 'exports.pcap.gz');
  writeFileSync(gz, gzipSync(readFileSync(capture)));
  const zst = join(dir, 'exports.pcap.zst');
  execFileSync('zstd', ['-q', '-f', capture, '-o', zst]);
  const cut = await slice('cut.pcap', 0, 10);
  for (const [what, file, c] of [
    ['gzip', gz, config()],
    ['zstd', zst, config()],
    ['cut short', cut, config()],
    ['batch size 7', capture, config(7)],
  ] as const) {
    const r = await replay(ch, file, c);
    assert.equal(r.datagrams, 0, `${what}: nothing replayed again`);
    assert.ok(r.alreadyStored > 0, `${what}: said to be stored already`);
    assert.equal(await stored(ch), all, `${what}: stored records unchanged`);
  }
});

test('a capture split in two and replayed in either order stores what the whole does, once', async (t) => {
  const whole = await freshStore();
  t.after(() => whole.close());
  const total = (await replay(whole, capture)).datagrams;
  const all = await stored(whole);
  assert.ok(all > 500, `${all} records stored`);
  const a = await slice('a.pcap', 0, 14);
  const b = await slice('b.pcap', 10, 1000); // overlaps a by four datagrams
  for (const order of [
    [a, b],
    [b, a],
  ]) {
    const ch = await freshStore();
    t.after(() => ch.close());
    const r1 = await replay(ch, order[0]!);
    const r2 = await replay(ch, order[1]!);
    assert.equal(r2.alreadyStored, 4, 'the overlap is skipped');
    assert.equal(r1.datagrams + r2.datagrams, total);
    assert.equal(await stored(ch), all);
  }
});

test('an interrupted replay leaves its day partial in the report until a complete run replaces it', async (t) => {
  const ch = await freshStore();
  t.after(() => ch.close());
  let reads = 0;
  // Stops after ten datagrams, as Ctrl-C would.
  const signal = {
    get aborted() {
      return ++reads > 10;
    },
  } as AbortSignal;
  const c = config();
  const { result } = await replayIntoStore({ config: c, log: silentLogger, store: ch, file: capture, replayId: await captureId(capture), replay: { signal } });
  assert.equal(result.interrupted, true);
  assert.equal(result.datagrams, 10);
  const day = (await ch.query<{ d: string }>(`SELECT toString(min(day)) AS d FROM ${ch.database}.${TABLES.flowQuality}`))[0]!.d;
  const partial = await queryReportData(ch, day);
  const finding = qualityFindings(partial).find((f) => f.subject === 'replay');
  assert.ok(finding && finding.severity === 'problem', JSON.stringify(qualityFindings(partial)));
  assert.match(
    finding.message,
    /the replay of softflowd-v9\.pcap was interrupted after \d+ % of the file: this day's figures are partial until it is run again to the end/,
  );
  assert.doesNotMatch(renderText(partial), /^Data quality\s+OK/m);

  // The same command again: the rest is replayed, the day is whole.
  const rest = await replay(ch, capture, c);
  assert.equal(rest.alreadyStored, 10);
  assert.equal(rest.interrupted, false);
  const whole = await queryReportData(ch, day);
  assert.equal(
    qualityFindings(whole).find((f) => f.subject === 'replay'),
    undefined,
  );
});
