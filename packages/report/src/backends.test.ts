import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Breakdowns, Slice } from '@haystack/store';
import { reportFixture } from './fixture.js';
import { renderBackendsCsv } from './backends.js';
import { renderHtml, renderText } from './render.js';
import type { ReportData } from './data.js';

const slice = (key: string, estBytes: number, total: number, lines: number, label = key): Slice => ({
  key,
  label,
  estBytes,
  flows: estBytes / 1000,
  share: estBytes / total,
  lines,
});
const breakdown = (bytes: [string, number][], countries: [string, number][], outside: number | null): Breakdowns => {
  const total = bytes.reduce((s, [, b]) => s + b, 0);
  return {
    estBytes: total,
    flows: total / 1000,
    lines: 7,
    byProvider: bytes.map(([k, b]) => slice(k, b, total, 3)),
    byOrg: [slice('AS16509', total, total, 7, 'AS16509 Amazon.com, Inc.')],
    byCountry: countries.map(([k, b]) => slice(k, b, total, 2)),
    byContinent: [slice('EU', total, total, 7)],
    byParty: [slice('first', total * 0.9, total, 7), slice('support', total * 0.1, total, 2)],
    outsideCountry: outside,
    outsideContinent: outside === null ? null : 0,
    unknownCountry: 0,
  };
};

function withBackends(): ReportData {
  const data = reportFixture({ day: '2026-11-20' });
  const cls = data.classes[0]!.classId;
  data.backends = {
    hitlistDay: '2026-11-20',
    homeCountry: 'DE',
    datasets: [
      {
        kind: 'asn',
        name: '@ip-location-db/asn',
        date: '2026-06-17',
        licence: 'CC BY 4.0',
        attribution: 'IP to ASN data by RouteViews and DB-IP',
        ageDays: 156,
        stale: true,
      },
      {
        kind: 'providers',
        name: 'lord-alfred/ipranges',
        date: '2026-11-01',
        licence: 'CC0 1.0',
        attribution: 'provider ranges, CC0',
        ageDays: 19,
        stale: false,
      },
    ],
    addresses: 40,
    unknown: { asn: 2, country: 3, provider: 11 },
    all: breakdown(
      [
        ['amazon', 6_000_000_000],
        ['unknown', 4_000_000_000],
      ],
      [
        ['DE', 4_000_000_000],
        ['IE', 6_000_000_000],
      ],
      0.6,
    ),
    classes: [{ classId: cls, ...breakdown([['amazon', 1_000_000]], [['IE', 1_000_000]], 1) }],
    dependence: [{ provider: 'amazon', country: '', lines: 123, classes: [cls] }],
  };
  return data;
}

test('the report says where the IoT traffic goes: providers, countries, the share leaving, dependence, datasets with date and licence', () => {
  const data = withBackends();
  const text = renderText(data);
  assert.match(text, /WHERE THE IOT TRAFFIC GOES \(hitlist of 2026-11-20; asn @ip-location-db\/asn of 2026-06-17 \(STALE: 156 days old\)/);
  assert.match(text, /providers: +Amazon Web Services 60(\.0)?% · other networks 40(\.0)?%/);
  assert.match(text, /leaving DE: 60(\.0)?% of the bytes; leaving the continent: 0%/);
  assert.match(text, /Amazon Web Services +123 lines +/);
  assert.match(text, /data: IP to ASN data by RouteViews and DB-IP/);
  assert.match(text, /of 40 hitlist addresses, 2 in no AS dataset, 3 without a country, 11 in none of the listed providers/);

  const html = renderHtml(data);
  assert.match(html, /<section id="backends">/);
  assert.match(html, /<a href="#backends">Where the traffic goes<\/a>/);
  assert.match(html, /<strong class="bad">Stale data<\/strong>/);
  assert.match(html, /<tr data-country="IE"><td>IE Ireland<\/td><td>Europe<\/td>/);
  assert.match(html, /<tr data-provider="amazon" data-country=""><td>Amazon Web Services<\/td><td>any<\/td><td class="num">123<\/td>/);
  // The stacked bars have a legend naming every provider drawn.
  assert.match(html, /<svg class="chart backends"[^]*Amazon Web Services<\/text>[^]*other networks \(no listed provider\)<\/text>/);

  const csv = renderBackendsCsv(data).split('\r\n');
  assert.equal(csv[0], 'day,scope,dimension,key,label,est_bytes,share,flows,lines');
  assert.ok(csv.includes('2026-11-20,all,provider,amazon,Amazon Web Services,6000000000,0.600000,6000000,3'), csv.slice(0, 4).join('\n'));
  assert.ok(csv.some((l) => l.startsWith(`2026-11-20,${data.classes[0]!.classId},country,IE,IE Ireland,1000000,1.000000,`)));

  // Without backend data the section is absent, not empty.
  const plain = reportFixture({ day: '2026-11-20' });
  assert.doesNotMatch(renderText(plain), /WHERE THE IOT TRAFFIC GOES/);
  assert.doesNotMatch(renderHtml(plain), /id="backends"/);
  assert.equal(renderBackendsCsv(plain), 'day,scope,dimension,key,label,est_bytes,share,flows,lines\r\n');
});
