import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules } from '@haystack/rules';
import { simulate, type SimOptions } from './index.js';
import { rulesDir, tempDir } from './test-support.js';

/**
 * The simulator draws only from seeded generators: the same seed writes the same bytes in
 * every file, a different seed a different world, and the sampling rate changes the
 * exports but not the world (lines, devices, DNS, truth).
 */
const BASE: Partial<SimOptions> = { lines: 300, hours: 3, sampling: [100], exporters: 3, protocol: 'mixed', ipv6Share: 0.4, rulesDir };

test('same seed gives the same bytes in every file; another seed or sampling rate changes what it should', async () => {
  const t = tempDir();
  try {
    const dict = loadRules(rulesDir);
    const run = async (name: string, o: Partial<SimOptions>) => {
      const dir = join(t.dir, name);
      const s = await simulate({ ...BASE, ...o }, { dir }, dict);
      return { dir, s, read: (f: string) => readFileSync(join(dir, f)) };
    };
    const a = await run('a', { seed: 7 });
    const b = await run('b', { seed: 7 });
    assert.deepEqual(readdirSync(a.dir).sort(), [
      'backends-truth.csv',
      'certs.jsonl',
      'datasets',
      'exports.pcap',
      'haystack.yaml',
      'lines.csv',
      'pdns.jsonl',
      'strays.csv',
      'truth.csv',
      'world.json',
    ]);
    const files = a.s.files;
    assert.ok(files.includes('datasets/asn/asn-ipv4.csv') && files.includes('datasets/providers/amazon/ipv4.txt'), files.join(' '));
    assert.deepEqual(b.s.files, files);
    for (const f of files) assert.ok(a.read(f).equals(b.read(f)), `${f} differs between two runs with the same seed`);
    assert.ok(a.s.records > 1000, `only ${a.s.records} records`);
    assert.ok(a.s.devices > 50, `only ${a.s.devices} devices`);

    const c = await run('c', { seed: 8 });
    for (const f of ['exports.pcap', 'truth.csv', 'pdns.jsonl', 'certs.jsonl', 'lines.csv'])
      assert.ok(!a.read(f).equals(c.read(f)), `${f} is the same for seeds 7 and 8`);

    const d = await run('d', { seed: 7, sampling: [1000] });
    // Where the backends live, and the bytes they were expected to receive, are before sampling.
    for (const f of ['truth.csv', 'pdns.jsonl', 'certs.jsonl', 'lines.csv', 'haystack.yaml', 'backends-truth.csv', 'datasets/asn/asn-ipv4.csv'])
      assert.ok(a.read(f).equals(d.read(f)), `${f} depends on the sampling rate`);
    assert.ok(!a.read('exports.pcap').equals(d.read('exports.pcap')));
    assert.ok(d.s.records < a.s.records, '1:1000 should export fewer records than 1:100');
  } finally {
    t.cleanup();
  }
});
