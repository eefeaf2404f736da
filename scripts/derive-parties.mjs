#!/usr/bin/env node
// Derives packages/backends/data/parties/parties.csv (vendor, registered domain, party, source)
// from the public party labels in ../shared/reference: iot-endpoints/all_party_mapping.csv
// (PoPETs 2024, MIT) and iotrimlist/iotrim.csv (IoTrim, per device). Facts only, with their
// source named on every row; run again when those files change.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ref = join(root, '..', 'shared', 'reference');
const PARTY = { 1: 'first', 2: 'support', 3: 'third' };
const rows = new Map();
const add = (vendor, domain, party, source) => {
  const v = vendor.toLowerCase().replace(/[^a-z0-9]/g, '');
  const d = domain.toLowerCase().replace(/^\.+|\.+$/g, '');
  if (!v || !d || !party) return;
  const k = `${v},${d}`;
  if (!rows.has(k)) rows.set(k, `${v},${d},${party},${source}`);
};
const endpoints = readFileSync(join(ref, 'iot-endpoints', 'all_party_mapping.csv'), 'utf8')
  .split('\n')
  .slice(1);
for (const line of endpoints) {
  const f = line.split(',');
  if (f.length < 7) continue;
  add(f[0], f[1], PARTY[f[f.length - 1].trim()], 'iot-endpoints');
}
// IoTrim labels destinations per device: the device's maker.
const MAKER = {
  'allure-speaker': 'harmankardon',
  'bosiwo-camera-wired': 'bosiwo',
  echodot: 'amazon',
  firetv: 'amazon',
  'google-home': 'google',
  'icsee-doorbell': 'icsee',
  'nest-tstat': 'google',
  'philips-hub': 'philips',
  'reolink-cam-wired': 'reolink',
  'roku-tv': 'roku',
  'smartthings-hub': 'samsung',
  'tplink-bulb': 'tplink',
  'tplink-plug2': 'tplink',
  'wansview-camera': 'wansview',
  'xiaomi-ricecooker': 'xiaomi',
  'yi-camera': 'yi',
};
for (const line of readFileSync(join(ref, 'iotrimlist', 'iotrim.csv'), 'utf8')
  .split('\n')
  .slice(1)) {
  const [device, dest, party] = line.split(';');
  if (!device || !MAKER[device] || !dest) continue;
  const labels = dest.replace(/^\./, '').split('.');
  add(MAKER[device], labels.slice(-2).join('.'), party, 'iotrimlist');
}
const out = ['vendor,domain,party,source', ...[...rows.values()].sort()].join('\n') + '\n';
writeFileSync(join(root, 'packages', 'backends', 'data', 'parties', 'parties.csv'), out);
console.log(`derive-parties: ${rows.size} rows`);
