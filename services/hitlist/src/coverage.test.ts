import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { dictionaryCoverage, renderCoverage } from './coverage.js';
import { repoRoot } from './test-helpers.js';

/**
 * What `haystack rules show` and the console say the shipped dictionary covers: the levels a
 * build gives when every domain is dedicated (the build's own fallback product → manufacturer
 * → platform), and the coverage the dictionary issue asks for.
 */
test('shipped dictionary coverage: at least 60 makers and 50 families, honest levels, every family cites a source with an address', () => {
  const dict = loadRules(join(repoRoot, 'rules'));
  const cov = dictionaryCoverage(dict);
  assert.ok(cov.makers >= 60, `${cov.makers} makers`);
  assert.ok(cov.families >= 50, `${cov.families} families`);
  assert.match(cov.updated ?? '', /^\d{4}-\d{2}-\d{2}$/);
  const by = new Map(cov.entries.map((e) => [e.id, e]));
  const productLevel = (maker: string, product: string) => by.get(maker)!.products.find((p) => p.id === product)!.level;
  // The build's fallback: Echo devices through the Alexa platform, Kasa plugs through TP-Link.
  assert.equal(productLevel('amazon', 'amazon-echo-dot'), 'platform');
  assert.equal(productLevel('amazon', 'amazon-fire-tv'), 'product');
  assert.equal(productLevel('tplink', 'tplink-plug'), 'manufacturer');
  assert.equal(productLevel('somfy', 'somfy-tahoma'), null);
  assert.equal(by.get('tuya')!.level, 'platform');
  assert.ok(by.get('tuya')!.regions.includes('eu') && by.get('tuya')!.regions.includes('us'));
  // Makers on shared infrastructure or with app hosts only are listed, with why.
  assert.equal(by.get('apple')!.level, null);
  assert.match(by.get('apple')!.note, /shared/);
  assert.equal(by.get('ecobee')!.level, null);
  assert.match(by.get('ecobee')!.note, /app-only/);
  // Every family names sources that sources.yaml lists with an address anyone can check.
  for (const d of dict.domains.filter((x) => x.family))
    for (const s of d.source) {
      const src = dict.sources.get(s);
      assert.ok(src, `${d.key}: unknown source ${s}`);
      if (s.startsWith('gh/') || s.startsWith('doc/')) assert.ok(src.url, `${d.key}: source ${s} has no url`);
    }
  // The makers that have public sources for device hosts are detectable at some level.
  for (const m of [
    'amazon',
    'ring',
    'blink',
    'nest',
    'samsung',
    'smartthings',
    'lg',
    'roku',
    'philips',
    'tplink',
    'tuya',
    'xiaomi-miot',
    'shelly',
    'meross',
    'netatmo',
    'dlink',
    'honeywell',
    'belkin',
    'hisense',
    'vizio',
    'ecovacs',
    'enphase',
  ])
    assert.ok(by.get(m)?.level, `${m} is not detectable: ${by.get(m)?.note}`);
  const text = renderCoverage(cov);
  assert.match(text, /^IoT dictionary updated \d{4}-\d{2}-\d{2}, digest [0-9a-f]{12}: \d+ makers/);
  assert.match(text, /\nTP-Link \(Kasa, Tapo\)\s+manufacturer\s+manufacturer\s+3\s+\d+/);
});
