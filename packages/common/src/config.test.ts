import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError, defaultConfig } from './config.js';

test('embedded defaults need nothing external', () => {
  const c = defaultConfig();
  assert.deepEqual(c.kafka.brokers, []);
  assert.equal(c.redis.url, null);
  assert.equal(c.clickhouse.url, null);
  assert.equal(c.ingest.netflowPort, 2055);
  assert.equal(c.ingest.ipfixPort, 4739);
});

test('file < environment < overrides, with env names in UPPER_SNAKE and comma lists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-cfg-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'ingest:\n  netflowPort: 9995\n  sampling:\n    defaultRate: 1000\nkafka:\n  brokers: [a:9092]\n');
  const c = loadConfig({
    file,
    env: { HAYSTACK_KAFKA__BROKERS: 'b:9092,c:9092', HAYSTACK_INGEST__IPFIX_PORT: '4740' },
    overrides: { ingest: { netflowPort: 2056 } },
  });
  assert.deepEqual(c.kafka.brokers, ['b:9092', 'c:9092']);
  assert.equal(c.ingest.ipfixPort, 4740);
  assert.equal(c.ingest.netflowPort, 2056);
  assert.equal(c.ingest.sampling.defaultRate, 1000);
});

test('every problem is reported with its path; unknown keys are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-cfg-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'ingest:\n  netflowPort: 70000\n  colour: blue\nmetrics:\n  listen: nowhere\n');
  assert.throws(
    () => loadConfig({ file, env: {} }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /ingest\.netflowPort/.test(e.message) &&
      /colour/.test(e.message) &&
      /metrics\.listen/.test(e.message) &&
      e.message.includes(file),
  );
  writeFileSync(file, 'ingest: [unclosed\n');
  assert.throws(() => loadConfig({ file, env: {} }), /not valid YAML/);
});

test('an unknown key names the variable or file that gave it and the nearest real key', () => {
  assert.throws(
    () => loadConfig({ env: { HAYSTACK_DETECTOR__WINDOWZ: 'hour' } }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === 'invalid configuration: HAYSTACK_DETECTOR__WINDOWZ: detector.windowz: unknown key (did you mean detector.windows?)',
  );
  const dir = mkdtempSync(join(tmpdir(), 'hs-cfg-'));
  const file = join(dir, 'typo.yaml');
  writeFileSync(file, 'ingest:\n  netflowPrt: 9995\n  zzzzzzzzzz: 1\n');
  assert.throws(
    () => loadConfig({ file, env: {} }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message.includes(`${file}: ingest.netflowPrt: unknown key (did you mean ingest.netflowPort?)`) &&
      e.message.includes(`${file}: ingest.zzzzzzzzzz: unknown key`) &&
      !/zzzzzzzzzz: unknown key \(did you mean/.test(e.message),
  );
});

test('top-level keys from the environment: HAYSTACK_STATE_DIR and HAYSTACK_DEPLOYMENT (a wrong value named with its variable)', () => {
  const c = loadConfig({ env: { HAYSTACK_STATE_DIR: '/srv/haystack', HAYSTACK_DEPLOYMENT: 'ixp' } });
  assert.equal(c.stateDir, '/srv/haystack');
  assert.equal(c.deployment, 'ixp');
  assert.throws(
    () => loadConfig({ env: { HAYSTACK_DEPLOYMENT: 'exchange' } }),
    (e: unknown) => e instanceof ConfigError && /deployment/.test(e.message) && /HAYSTACK_DEPLOYMENT/.test(e.message),
  );
});

test('backends.homeCountry: an ISO 3166-1 alpha-2 country, upper-cased; UK (not a code) is refused with the right one named', () => {
  assert.equal(loadConfig({ env: { HAYSTACK_BACKENDS__HOME_COUNTRY: 'de' } }).backends.homeCountry, 'DE');
  assert.throws(
    () => loadConfig({ env: { HAYSTACK_BACKENDS__HOME_COUNTRY: 'UK' } }),
    /HAYSTACK_BACKENDS__HOME_COUNTRY: backends\.homeCountry: not an ISO 3166-1 alpha-2 country code \(the United Kingdom is GB\)/,
  );
  assert.throws(() => loadConfig({ env: { HAYSTACK_BACKENDS__HOME_COUNTRY: 'Germany' } }), /an ISO 3166-1 alpha-2 code such as DE/);
});
