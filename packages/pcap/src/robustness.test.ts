import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapFormatError, PcapWriter, readAllUdp, readUdpSync, type PcapStats, type UdpDatagram } from './index.js';

const run = promisify(execFile);

async function sampleCapture(n = 20): Promise<Buffer> {
  const w = PcapWriter.memory();
  for (let i = 0; i < n; i++) {
    await w.writeUdp({ tsMs: 1e12 + i, src: `10.0.0.${i + 1}`, srcPort: 5000 + i, dst: '10.0.1.1', dstPort: 2055, payload: Buffer.alloc(100 + i, i) });
  }
  await w.close();
  return w.toBuffer();
}

/** Reads an in-memory capture, returning what was delivered before any error, and the error. */
function readAll(buf: Buffer): { got: UdpDatagram[]; error: unknown; stats: PcapStats } {
  const got: UdpDatagram[] = [];
  const r = readUdpSync(buf);
  try {
    for (const d of r) got.push(d);
    return { got, error: undefined, stats: r.stats };
  } catch (e) {
    return { got, error: e, stats: r.stats };
  }
}

/** xorshift32: deterministic mutations. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

describe('truncated and corrupt captures', () => {
  let dir: string;
  let pcap: Buffer;
  let pcapng: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haystack-pcap-bad-'));
    pcap = await sampleCapture();
    await writeFile(join(dir, 'ok.pcap'), pcap);
    await run('editcap', ['-F', 'pcapng', join(dir, 'ok.pcap'), join(dir, 'ok.pcapng')]);
    pcapng = await readFile(join(dir, 'ok.pcapng'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a file cut inside its last record keeps the complete frames and says so', async () => {
    for (const [name, full] of [
      ['pcap', pcap],
      ['pcapng', pcapng],
    ] as const) {
      const cut = full.subarray(0, full.length - 7);
      const path = join(dir, `cut.${name}`);
      await writeFile(path, cut);
      for (const chunkSize of [1 << 20, 50]) {
        const { datagrams, stats } = await readAllUdp(path, { chunkSize });
        assert.equal(datagrams.length, 19, name);
        assert.equal(stats.truncatedFile, true);
        assert.equal(datagrams[18]!.payload.length, 118);
      }
      await assert.rejects(readAllUdp(path, { onTruncatedFile: 'error' }), (e: unknown) => {
        assert.ok(e instanceof PcapFormatError);
        assert.match(e.message, /ends inside a record \(\d+ trailing bytes\)/);
        return true;
      });
    }
  });

  it('empty, too short, and non-capture files are refused with a clear error', async () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /empty file/],
      [pcap.subarray(0, 10), /too short for a capture header/],
      [Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'), /not a pcap or pcapng file \(magic 0x47455420\)/],
      [Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 3, 0, 4, 0, ...Buffer.alloc(16)]), /unsupported pcap version 3\.4/],
    ];
    for (const [buf, re] of cases) {
      const path = join(dir, 'bad.bin');
      await writeFile(path, buf);
      await assert.rejects(readAllUdp(path), (e: unknown) => e instanceof PcapFormatError && re.test(e.message));
      assert.throws(() => [...readUdpSync(buf)], re);
    }
  });

  it('garbage after valid records ends the read with an error after the valid frames', () => {
    // pcap: a record header claiming 2 GB.
    const junk = Buffer.alloc(16, 0x7f);
    let r = readAll(Buffer.concat([pcap, junk]));
    assert.equal(r.got.length, 20);
    assert.ok(r.error instanceof PcapFormatError);
    assert.match((r.error as Error).message, /captured length \d+ exceeds/);
    assert.equal((r.error as PcapFormatError).offset, pcap.length);
    // pcapng: a block with a length that is not a multiple of 4.
    const bad = Buffer.from([6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    r = readAll(Buffer.concat([pcapng, bad]));
    assert.equal(r.got.length, 20);
    assert.match((r.error as Error).message, /corrupt pcapng block: total length 13/);
    // pcapng: a block whose trailing length disagrees.
    const mismatch = Buffer.from(pcapng);
    mismatch.writeUInt32LE(0xdead, mismatch.length - 4);
    r = readAll(mismatch);
    assert.equal(r.got.length, 19);
    assert.match((r.error as Error).message, /trailing length/);
  });

  it('random corruption never crashes, hangs or throws anything but PcapFormatError', () => {
    const next = rng(12345);
    for (const base of [pcap, pcapng]) {
      for (let round = 0; round < 300; round++) {
        const buf = Buffer.from(base);
        const flips = 1 + Math.floor(next() * 8);
        for (let i = 0; i < flips; i++) buf[Math.floor(next() * buf.length)] = Math.floor(next() * 256);
        const cutAt = next() < 0.3 ? Math.floor(next() * buf.length) : buf.length;
        const { got, error, stats } = readAll(buf.subarray(0, cutAt));
        if (error !== undefined) assert.ok(error instanceof PcapFormatError, String(error));
        // pcapng framing is checked at both ends of every block, so no frames are invented.
        if (base === pcapng) assert.ok(stats.frames <= 20);
        // Every frame read is accounted for exactly once.
        const outcomes = stats.udp + stats.skippedNonUdp + stats.truncated + stats.fragments + stats.malformed + stats.unsupportedLinkType;
        assert.equal(outcomes, stats.frames);
        assert.equal(got.length, stats.udp);
      }
    }
  });

  it('bounds memory on absurd lengths instead of buffering the file', async () => {
    const header = pcap.subarray(0, 24);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(50 * 1024 * 1024, 8);
    const path = join(dir, 'huge.pcap');
    await writeFile(path, Buffer.concat([header, rec, Buffer.alloc(1000)]));
    await assert.rejects(readAllUdp(path), /exceeds 16777216/);
    // A caller expecting jumbo records can raise the limit; the file then just ends early.
    const { stats } = await readAllUdp(path, { maxRecordBytes: 64 * 1024 * 1024 });
    assert.equal(stats.truncatedFile, true);
  });
});
