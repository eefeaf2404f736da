/**
 * The commented example configuration (deploy/haystack.example.yaml, what `haystack config init`
 * writes) stays true: it lists every key the configuration has, no key it does not, and the
 * values it gives are the defaults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { configSchema, loadConfig } from '@haystack/common';
import { EXAMPLE_CONFIG } from './commands/config.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');

function keyPaths(node: unknown, prefix = ''): string[] {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return [prefix];
  const entries = Object.entries(node as Record<string, unknown>);
  // An empty map is a value (classThresholds: {}), not a section.
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => keyPaths(v, prefix ? `${prefix}.${k}` : k));
}

test('the example configuration lists every key with its default', () => {
  const text = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const defaults = configSchema.parse({});
  assert.deepEqual(keyPaths(parse(text)).sort(), keyPaths(defaults).sort());
  assert.deepEqual(loadConfig({ file: EXAMPLE_CONFIG, env: {} }), defaults);
  // Every key carries a word of explanation: a comment on its line or just above it.
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    const m = /^(\s*)([A-Za-z0-9]+):(.*)$/.exec(l);
    if (!m || m[3]!.trim() === '' || m[3]!.includes('#')) return;
    const above = lines[i - 1] ?? '';
    const obvious = [
      'level',
      'clientId',
      'flowTopic',
      'consumerGroup',
      'keyPrefix',
      'database',
      'username',
      'maxRows',
      'evidenceDays',
      'detectionDays',
      'qualityDays',
      'retentionDays',
      'hourly',
      'daily',
      'stateDir',
      'deployment',
      'sessionTimeoutMs',
      'lineKey',
      'subscriberMap',
      'listen',
      'defaultRate',
    ];
    assert.ok(obvious.includes(m[2]!) || above.trim().startsWith('#'), `line ${i + 1} (${m[2]}) has no comment`);
  });
});

test('haystack config init writes it, refuses to overwrite without --force', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-config-init-'));
  try {
    const run = (args: string[]) => spawnSync(process.execPath, [main, 'config', 'init', ...args], { cwd: dir, encoding: 'utf8' });
    const first = run([]);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(readFileSync(join(dir, 'haystack.yaml'), 'utf8'), readFileSync(EXAMPLE_CONFIG, 'utf8'));
    const again = run([]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^haystack: --out haystack\.yaml exists: keep it, or add --force to overwrite it\n$/);
    assert.equal(run(['--force']).status, 0);
    const shown = spawnSync(process.execPath, [main, 'config', 'show', '-c', 'haystack.yaml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(shown.status, 0, shown.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
