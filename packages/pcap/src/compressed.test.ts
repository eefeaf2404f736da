import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PcapWriter, readAllUdp, type UdpDatagramInput } from './index.js';

const input: UdpDatagramInput[] = Array.from({ length: 300 }, (_, i) => ({
  tsMs: 1_700_000_000_000 + i,
  src: `192.0.2.${1 + (i % 3)}`,
  srcPort: 50_000 + i,
  dst: '198.51.100.9',
  dstPort: 2055,
  payload: Buffer.alloc(200 + (i % 50), i & 0xff),
}));

test('compressed captures (gzip, xz, zstd, bzip2) read exactly as the plain file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pcap-z-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const plain = join(dir, 'exports.pcap');
  const w = await PcapWriter.create(plain);
  for (const d of input) await w.writeUdp(d);
  await w.close();
  const want = await readAllUdp(plain);
  assert.equal(want.datagrams.length, 300);
  const same = async (file: string) => {
    const got = await readAllUdp(file, { chunkSize: 4096 });
    assert.equal(got.datagrams.length, 300, file);
    assert.deepEqual(
      got.datagrams.map((d) => [d.src, d.srcPort, d.dstPort, d.tsMs, Buffer.from(d.payload).toString('hex')]),
      want.datagrams.map((d) => [d.src, d.srcPort, d.dstPort, d.tsMs, Buffer.from(d.payload).toString('hex')]),
      file,
    );
    assert.equal(got.stats.truncatedFile, false);
  };
  await writeFile(join(dir, 'exports.pcap.gz'), gzipSync(await readFile(plain)));
  await same(join(dir, 'exports.pcap.gz'));
  for (const [tool, ext] of [
    ['xz', 'xz'],
    ['zstd', 'zst'],
    ['bzip2', 'bz2'],
  ] as const) {
    const out = `${plain}.${ext}`;
    await writeFile(out, execFileSync(tool, ['-c', plain]));
    await same(out);
  }
});

test('a compressed capture whose tool is missing, or whose data is corrupt, is a clear error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pcap-z-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const plain = join(dir, 'x.pcap');
  const w = await PcapWriter.create(plain);
  for (const d of input.slice(0, 5)) await w.writeUdp(d);
  await w.close();
  const xz = `${plain}.xz`;
  await writeFile(xz, execFileSync('xz', ['-c', plain]));
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(readAllUdp(xz), /is xz-compressed and the xz tool is not installed \(Debian package xz-utils\)/);
  } finally {
    process.env.PATH = path;
  }
  const gz = gzipSync(await readFile(plain));
  await writeFile(`${plain}.gz`, gz.subarray(0, gz.length - 30));
  await assert.rejects(readAllUdp(`${plain}.gz`), /gzip data is corrupt|ends inside|truncated/);
});
