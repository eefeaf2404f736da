/**
 * The shipped dictionary on real labelled devices (IoT SENTINEL setup captures, see
 * ../shared/captures/README.md): each device's own traffic exported by a real softflowd as
 * NetFlow v9, passive DNS from the captures' own DNS answers, the day's hitlist built from the
 * shipped rules/, flows replayed through ingest and the detector. Every device with cloud
 * traffic in the dictionary is detected, and no line gets a class its device is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema, silentLogger } from '@haystack/common';
import type { DetectorStorage, StoredDayState } from '@haystack/detector';
import type { DetectorRows } from '@haystack/store';
import { buildHitlist, PdnsFileInput } from '@haystack/hitlist';
import { MemoryHitlistStore } from '@haystack/hitlist-contract';
import { assemblePipeline } from '@haystack/pipeline';
import { loadRules, passiveDnsFromCaptures, SHIPPED_RULES_DIR } from '@haystack/rules';
import { runSoftflowd } from '@haystack/testkit/exporters-run';

const shared = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared');
const sentinel = join(shared, 'captures', 'iot-sentinel');

/** Device folder → the classes it may be detected as (its product, manufacturer, platforms). */
const DEVICES: Record<string, string[]> = {
  'D-LinkHomeHub': ['dlink'],
  'D-LinkSiren': ['dlink'],
  'D-LinkSwitch': ['dlink'],
  'D-LinkWaterSensor': ['dlink'],
  'D-LinkSensor': ['dlink', 'dlink-motion-sensor'],
  'TP-LinkPlugHS100': ['tplink', 'tplink-plug'],
  'TP-LinkPlugHS110': ['tplink', 'tplink-plug-energy'],
  Lightify: ['osram', 'osram-lightify-hub'],
  HueBridge: ['philips', 'philips-hue-bridge'],
  WeMoSwitch: ['belkin', 'belkin-wemo-switch'],
  WeMoInsightSwitch: ['belkin', 'belkin-wemo-insight'],
  EdimaxPlug1101W: ['edimax', 'edimax-plug'],
  Withings: ['withings', 'withings-scale'],
  MAXGateway: ['eq-3', 'eq-3-max-cube'],
  EdnetGateway: ['ednet', 'ednet-gateway'],
};

class Detections implements DetectorStorage {
  readonly lines = new Map<string, Set<string>>();
  async ensureSchema(): Promise<void> {}
  async insert(rows: DetectorRows, done: Set<keyof DetectorRows> = new Set()): Promise<void> {
    for (const d of rows.detections) {
      if (!this.lines.has(d.line)) this.lines.set(d.line, new Set());
      this.lines.get(d.line)!.add(d.class_id);
    }
    for (const k of Object.keys(rows) as (keyof DetectorRows)[]) done.add(k);
  }
  async loadDayState(): Promise<StoredDayState> {
    return { evidence: [], detections: [] };
  }
}

test('labelled device captures → softflowd → ingest → detector: every device detected, no false class on any line', { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(sentinel), `labelled captures expected at ${sentinel} (../shared beside the checkout)`);
  const dir = mkdtempSync(join(tmpdir(), 'hs-captures-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dict = loadRules(SHIPPED_RULES_DIR);
  const failures: string[] = [];
  for (const [device, allowed] of Object.entries(DEVICES)) {
    const folder = join(sentinel, device);
    const mac = readFileSync(join(folder, '_iotdevice-mac.txt'), 'utf8').trim().toLowerCase();
    const captures = readdirSync(folder)
      .filter((f) => f.endsWith('.pcap'))
      .map((f) => join(folder, f));
    // Passive DNS from the captures' own answers; one hitlist per capture day.
    const pdns = await passiveDnsFromCaptures(captures);
    const pdnsFile = join(dir, `${device}.jsonl`);
    writeFileSync(pdnsFile, pdns.map((r) => JSON.stringify(r)).join('\n'));
    const days = [...new Set(pdns.map((r) => new Date(r.time_first * 1000).toISOString().slice(0, 10)))];
    const store = new MemoryHitlistStore();
    for (const day of days)
      await store.publish((await buildHitlist({ day, rules: dict, pdns: [new PdnsFileInput(pdnsFile)], tmpDir: dir })).hitlist, { activate: true });

    const storage = new Detections();
    const config = configSchema.parse({
      log: { level: 'silent' },
      detector: { rawLineIds: true, lineKey: 'test-line-key-0123456789' },
      metrics: { listen: null },
    });
    const p = assemblePipeline({
      config,
      log: silentLogger,
      ingest: 'replay',
      detect: true,
      embedded: true,
      detectorStorage: storage,
      hitlists: store,
      metrics: false,
    });
    await p.start();
    for (const c of captures) {
      // The device's own traffic (WeMo setup captures also carry the phone's, through its access point).
      const run = await runSoftflowd({ pcap: c, version: 9, extraArgs: [`ether host ${mac} and not net 10.22.22.0/24`] });
      try {
        await p.replay(run.capturePath);
      } finally {
        rmSync(dirname(run.capturePath), { recursive: true, force: true });
      }
    }
    await p.stop();
    await store.close();
    const detected = [...storage.lines].map(([line, classes]) => `${line}: ${[...classes].sort().join(' ')}`);
    t.diagnostic(`${device}: ${detected.join('; ') || 'nothing'}`);
    if (storage.lines.size === 0) failures.push(`${device}: not detected`);
    for (const [line, classes] of storage.lines)
      for (const c of classes) if (!allowed.includes(c)) failures.push(`${device}: false class ${c} on line ${line} (${detected.join('; ')})`);
  }
  assert.deepEqual(failures, []);
});
