/**
 * `haystack decode` on a capture mixing protocols: sFlow and NetFlow v9 records side by side,
 * the subscriber side as ingest would mark it (from ingest.subscriberPrefixes), and a note on
 * stderr saying how a tunnel template was read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PacketBuilder, buildSflowDatagram, buildFrame } from '@haystack/decoders';
import { PcapWriter } from '@haystack/pcap';
import { makeTrafficPcap } from '@haystack/testkit/exporters-traffic';
import { runSoftflowd } from '@haystack/testkit/exporters-run';
import { collectWithNfcapd } from '@haystack/testkit/nfcapd';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const main = join(repoRoot, 'apps', 'cli', 'dist', 'main.js');

test('decode reads sFlow beside NetFlow, shows the subscriber side and says how a tunnel template is read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-decode-'));
  try {
    const file = join(dir, 'mixed.pcap');
    const w = await PcapWriter.create(file);
    const tunnel = new PacketBuilder(9, { domain: 0, exportSecs: 1_700_000_000, sequence: 0, uptimeMs: 1000 })
      .template(300, [
        { id: 8, length: 4 },
        { id: 12, length: 4 },
        { id: 4, length: 1 },
        { id: 8, length: 4 },
        { id: 12, length: 4 },
        { id: 7, length: 2 },
        { id: 11, length: 2 },
        { id: 4, length: 1 },
        { id: 1, length: 4 },
      ])
      .data(300, [['198.51.100.1', '198.51.100.2', 4, '52.1.1.1', '10.20.30.40', 443, 5000, 6, 900]])
      .build();
    await w.writeUdp({ tsMs: 1_700_000_000_000, src: '192.0.2.1', srcPort: 5000, dst: '192.0.2.99', dstPort: 2055, payload: tunnel });
    const sflow = buildSflowDatagram({
      agent: '192.0.2.7',
      sequence: 1,
      samples: [
        {
          kind: 'flow',
          sequence: 1,
          sourceIndex: 1,
          rate: 2048,
          records: [{ kind: 'header', frameLength: 128, header: buildFrame({ src: '100.64.1.2', dst: '52.9.9.9', proto: 17, srcPort: 1, dstPort: 53 }) }],
        },
      ],
    });
    await w.writeUdp({ tsMs: 1_700_000_000_500, src: '192.0.2.7', srcPort: 5001, dst: '192.0.2.99', dstPort: 6343, payload: sflow });
    await w.close();

    const r = spawnSync(process.execPath, [main, 'decode', file], {
      encoding: 'utf8',
      env: { ...process.env, HAYSTACK_LOG_LEVEL: 'warn', HAYSTACK_METRICS__LISTEN: 'null' },
    });
    assert.equal(r.status, 0, r.stderr);
    const recs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      recs.map((x) => [x['src'], x['dst'], x['proto'], x['flowVersion'], x['subscriberSide'], x['samplingRate']]),
      [
        ['52.1.1.1', '10.20.30.40', 6, 9, 'dst', 0],
        ['100.64.1.2', '52.9.9.9', 17, 133, 'src', 2048],
      ],
    );
    assert.match(r.stderr, /note: 192\.0\.2\.1 domain 0 template 300: tunnel template: addresses, ports and protocol from the inner header/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decode of a cut nfdump archive: what it read and a warning, or one line and exit 1 when nothing is left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-decode-cut-'));
  try {
    // A real nfcapd archive of softflowd exports, several blocks (nfcapd writes a block per flush).
    const traffic = join(dir, 'traffic.pcap');
    await makeTrafficPcap(traffic, { seed: 3, flows: 400 });
    const v9 = await runSoftflowd({ pcap: traffic, version: 9, capturePath: join(dir, 'v9.pcap') });
    mkdirSync(join(dir, 'nf'));
    const file = await collectWithNfcapd({ capture: v9.capturePath, dir: join(dir, 'nf') });
    const whole = readFileSync(file);
    const all = spawnSync(process.execPath, [main, 'decode', file], { encoding: 'utf8' });
    assert.equal(all.status, 0, all.stderr);
    const n = all.stdout.trim().split('\n').length;
    assert.ok(n > 100, `${n} records`);
    // Cut inside the first data block: nothing left to print.
    const first = join(dir, 'first-block-cut.nfcapd');
    writeFileSync(first, whole.subarray(0, 600));
    const none = spawnSync(process.execPath, [main, 'decode', first], { encoding: 'utf8' });
    assert.equal(none.status, 1);
    assert.equal(none.stdout, '');
    assert.deepEqual(none.stderr.trim().split('\n'), [`haystack: ${first}: no flow record: the archive ends inside its first block (cut short?)`]);
    // Two copies of the data block, the second cut: the whole block is printed, and the cut is said
    // (the layout the archive reader's own test builds: header, blocks, the file's block count).
    const blockLen = whole.readUInt32LE(40 + 4);
    const block = whole.subarray(40, 40 + 12 + blockLen);
    const header = Buffer.from(whole.subarray(0, 40));
    header.writeUInt32LE(2, 36);
    const late = join(dir, 'late-cut.nfcapd');
    writeFileSync(late, Buffer.concat([header, block, block.subarray(0, 100)]));
    const some = spawnSync(process.execPath, [main, 'decode', late], { encoding: 'utf8' });
    assert.equal(some.status, 0, some.stderr);
    const m = some.stdout.trim() ? some.stdout.trim().split('\n').length : 0;
    assert.equal(m, n, 'the whole block');
    assert.match(some.stderr, /warning: the archive ends inside a block \(cut short\?\): what follows the cut is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
