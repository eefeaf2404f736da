import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, enrichAddresses, lookupRanges, makerTokens, PartyBook, ProviderRanges, BUNDLED_PROVIDERS, resolveDatasets } from './index.js';

const NOW = new Date('2026-12-07T00:00:00Z');
const bundled = { asn: null, country: null, providers: null, maxAgeDays: 90, now: NOW };

test('the bundled datasets place known addresses in the right AS, organisation, country, continent and cloud', async () => {
  const r = await enrichAddresses(['8.8.8.8', '3.64.1.1', '52.94.236.248', '13.107.42.14', '2606:4700:4700::1111', '2a05:d014::1', '1.1.1.1'], bundled);
  const by = new Map(r.backends.map((b) => [b.address, [b.asn, b.asOrg, b.country, b.continent, b.provider]]));
  assert.deepEqual(by.get('8.8.8.8'), [15169, 'Google LLC', 'US', 'NA', 'google']);
  assert.deepEqual(by.get('3.64.1.1'), [16509, 'Amazon.com, Inc.', 'DE', 'EU', 'amazon'], 'AWS eu-central-1 (Frankfurt)');
  assert.deepEqual(by.get('52.94.236.248'), [16509, 'Amazon.com, Inc.', 'US', 'NA', 'amazon']);
  assert.deepEqual(by.get('13.107.42.14'), [8068, 'Microsoft Corporation', 'US', 'NA', 'microsoft']);
  assert.deepEqual(by.get('2606:4700:4700::1111'), [13335, 'Cloudflare, Inc.', 'US', 'NA', 'cloudflare']);
  assert.deepEqual(by.get('2a05:d014::1'), [16509, 'Amazon.com, Inc.', 'DE', 'EU', 'amazon']);
  // Cloudflare's resolver is not in its published proxy ranges: AS and country known, provider not.
  assert.deepEqual(by.get('1.1.1.1'), [13335, 'Cloudflare, Inc.', 'AU', 'OC', null]);
  assert.deepEqual(r.unknown, { asn: 0, country: 0, provider: 1 });
  // Each dataset says what it is, from when, under which licence, and whether it is stale.
  assert.deepEqual(
    r.datasets.map((d) => [d.kind, d.name, d.date, d.ageDays, d.stale, d.licence]),
    [
      ['asn', '@ip-location-db/asn', '2026-06-17', 173, true, 'CC BY 4.0'],
      ['country', '@ip-location-db/geo-whois-asn-country', '2026-06-17', 173, true, 'CC BY 4.0'],
      ['providers', 'lord-alfred/ipranges', '2026-08-22', 107, true, 'CC0 1.0'],
    ],
  );
  assert.ok(r.datasets.every((d) => d.attribution.length > 20));
  const fresh = await enrichAddresses(['8.8.8.8'], { ...bundled, maxAgeDays: 365 });
  assert.ok(fresh.datasets.every((d) => !d.stale));
});

test('an address in no dataset is unknown and counted, never guessed; special-purpose space is in no network', async () => {
  // 192.0.2.1 is documentation space: one provider's published list wrongly includes it.
  const providers = new ProviderRanges(resolveDatasets(bundled).find((d) => d.kind === 'providers')!.files);
  assert.ok(
    providers.ignored.some((p) => p.startsWith('vultr 192.0.2.0/24')),
    providers.ignored.join(', '),
  );
  const r = await enrichAddresses(['192.0.2.1', '2001:db8::1', '10.1.2.3'], bundled);
  assert.deepEqual(
    r.backends.map((b) => [b.address, b.asn, b.country, b.provider]),
    [
      ['10.1.2.3', null, null, null],
      ['192.0.2.1', null, null, null],
      ['2001:db8::1', null, null, null],
    ],
  );
  assert.deepEqual(r.unknown, { asn: 3, country: 3, provider: 3 });
});

test('configured copies: newer datasets of the same formats are read, dated, and a wrong path names its key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backends-'));
  try {
    mkdirSync(join(dir, 'asn'));
    writeFileSync(join(dir, 'asn', 'asn-ipv4.csv'), '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."\n9.9.9.0,9.9.9.255,19281,Quad9\n');
    writeFileSync(join(dir, 'asn', 'asn-ipv6.csv'), '2620:fe::,2620:fe::ffff,19281,Quad9\n');
    writeFileSync(join(dir, 'asn', 'SNAPSHOT'), '2026-12-01\n');
    mkdirSync(join(dir, 'country'));
    writeFileSync(join(dir, 'country', 'country-ipv4.csv'), 'ip_range_start,ip_range_end,country_code\n9.9.9.0,9.9.9.255,ch\n');
    mkdirSync(join(dir, 'prov', 'quad9'), { recursive: true });
    writeFileSync(join(dir, 'prov', 'quad9', 'ipv4.txt'), '9.9.9.0/24\n');
    writeFileSync(join(dir, 'prov', 'quad9', 'ipv6.txt'), '2620:fe::/48\n');
    const o = { asn: join(dir, 'asn'), country: join(dir, 'country'), providers: join(dir, 'prov'), maxAgeDays: 30, now: NOW };
    const r = await enrichAddresses(['9.9.9.9', '2620:fe::fe', '8.8.8.8'], o);
    assert.deepEqual(
      r.backends.map((b) => [b.address, b.asn, b.asOrg, b.country, b.continent, b.provider]),
      [
        ['2620:fe::fe', 19281, 'Quad9', null, null, 'quad9'],
        ['8.8.8.8', null, null, null, null, null],
        ['9.9.9.9', 19281, 'Quad9', 'CH', 'EU', 'quad9'],
      ],
    );
    assert.deepEqual(
      r.datasets.map((d) => [d.kind, d.date, d.stale, d.licence]),
      [
        ['asn', '2026-12-01', false, 'as supplied'],
        ['country', r.datasets[1]!.date, false, 'as supplied'],
        ['providers', r.datasets[2]!.date, false, 'as supplied'],
      ],
    );
    assert.throws(
      () => resolveDatasets({ ...o, asn: join(dir, 'nope') }),
      (e: unknown) => e instanceof DatasetError && /^backends\.asn .*nope: no such directory/.test(e.message),
    );
    assert.throws(() => resolveDatasets({ ...o, country: join(dir, 'prov') }), /backends\.country .*: no IP range CSV/);
    // An unsorted file is refused with its line, not read wrong.
    writeFileSync(join(dir, 'asn', 'asn-ipv4.csv'), '9.9.9.0,9.9.9.255,19281,Quad9\n1.0.0.0,1.0.0.255,13335,x\n');
    await assert.rejects(lookupRanges([join(dir, 'asn', 'asn-ipv4.csv')], ['9.9.9.9', '10.0.0.1']), /asn-ipv4\.csv:2: not sorted by range start/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(BUNDLED_PROVIDERS.endsWith(join('data', 'cloud-ranges')));
});

test('the party of an IoT domain for its maker: first, support, third, or unknown', () => {
  const book = new PartyBook();
  const tuya = makerTokens('tuya', 'Tuya', 'Tuya');
  const amazon = makerTokens('amazon', 'Amazon');
  assert.equal(book.party('a.tuyaus.com', tuya), 'first');
  assert.equal(book.party('a.{region}.tuyaus.com', tuya), 'first', 'a pattern: its registered domain');
  assert.equal(book.party('a.tuyaus.com', amazon), 'support', "as the studies label it for Amazon's devices");
  assert.equal(book.party('device-metrics-us.amazon.com', amazon), 'first');
  assert.equal(book.party('stats.doubleclick.net', tuya), 'third');
  assert.equal(book.party('ec2.amazonaws.com', makerTokens('acme-widgets', 'Acme Widgets')), 'support', 'what most makers’ devices use it for');
  // A maker's own name in the registered domain is first party even where the studies are silent.
  assert.equal(book.party('api.acmewidgets-cloud.io', makerTokens('acme-widgets', 'Acmewidgets')), 'first');
  assert.equal(book.party('telemetry.unheard-of-vendor.example', tuya), 'unknown');
});
