/**
 * `haystack decode` on a capture mixing protocols: sFlow and NetFlow v9 records side by side,
 * the subscriber side as ingest would mark it (from ingest.subscriberPrefixes), and a note on
 * stderr saying how a tunnel template was read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PacketBuilder, buildSflowDatagram, buildFrame } from '@haystack/decoders';
import { PcapWriter } from '@haystack/pcap';

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
