import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LinkType,
  PcapWriter,
  buildTcpPacket,
  buildUdpPacket,
  internetChecksum,
  readAllUdp,
  readFrames,
  readFramesSync,
  readUdp,
  readUdpSync,
  type UdpDatagram,
  type UdpDatagramInput,
  type PcapStats,
} from './index.js';

/** A deterministic mix of IPv4/IPv6 datagrams with payload sizes from 0 to jumbo-ish. */
function sampleDatagrams(n: number): UdpDatagramInput[] {
  const out: UdpDatagramInput[] = [];
  for (let i = 0; i < n; i++) {
    const v6 = i % 3 === 0;
    const size = [0, 1, 7, 64, 1400, 1472, 9000][i % 7]!;
    out.push({
      // Whole microseconds, so the µs file stores them exactly.
      tsMs: 1_700_000_000_000 + i * 1234.567,
      src: v6 ? `2001:db8::${(i + 1).toString(16)}` : `10.0.${i >> 8}.${i & 0xff}`,
      srcPort: 1000 + i,
      dst: v6 ? '2001:db8:ffff::1' : '192.0.2.1',
      dstPort: 2055,
      payload: Buffer.alloc(size, i & 0xff),
    });
  }
  return out;
}

function assertSame(got: UdpDatagram[], want: UdpDatagramInput[]): void {
  assert.equal(got.length, want.length);
  got.forEach((d, i) => {
    const w = want[i]!;
    assert.equal(d.index, i + 1);
    // The inputs are written in canonical form, which is what the reader prints.
    assert.equal(d.src, w.src);
    assert.equal(d.dst, w.dst);
    assert.equal(d.srcPort, w.srcPort);
    assert.equal(d.dstPort, w.dstPort);
    assert.ok(Math.abs(d.tsMs - w.tsMs) < 1e-3, `ts ${d.tsMs} vs ${w.tsMs}`);
    assert.ok(d.payload.equals(w.payload as Buffer), `payload ${i}`);
  });
}

function assertBalanced(s: PcapStats): void {
  assert.equal(s.frames, s.udp + s.skippedNonUdp + s.truncated + s.fragments + s.malformed + s.unsupportedLinkType);
}

describe('pcap writer → reader round trip', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haystack-pcap-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('UDP datagrams over Ethernet, IPv4 and IPv6, file and buffer, any chunk size', async () => {
    const input = sampleDatagrams(50);
    const path = join(dir, 'udp.pcap');
    const w = await PcapWriter.create(path, { bufferSize: 4096 });
    for (const d of input) await w.writeUdp(d);
    await w.close();
    assert.equal(w.frames, 50);
    assert.equal((await stat(path)).size, w.bytes);

    for (const chunkSize of [1 << 20, 4096, 97, 7]) {
      const { datagrams, stats } = await readAllUdp(path, { chunkSize });
      assertSame(datagrams, input);
      assert.equal(stats.format, 'pcap');
      assert.equal(stats.frames, 50);
      assert.equal(stats.udp, 50);
      assert.equal(stats.bytes, w.bytes);
      assert.equal(stats.truncatedFile, false);
      assertBalanced(stats);
    }
    const buf = await readFile(path);
    const sync = readUdpSync(buf);
    const list = [...sync];
    assertSame(list, input);
    // Payloads are views into the caller's buffer, not copies.
    assert.ok(list.every((d) => d.payload.buffer === buf.buffer));
  });

  it('keeps exact timestamps in both byte orders, microsecond and nanosecond files', async () => {
    const tsMs = [0, 1, 1_700_000_000_123.456, 1_700_000_000_999.999, 4_000_000_000_000];
    for (const byteOrder of ['le', 'be'] as const) {
      for (const nanosecond of [false, true]) {
        const w = PcapWriter.memory({ byteOrder, nanosecond });
        for (const t of tsMs) await w.writeUdp({ tsMs: t, src: '1.2.3.4', srcPort: 1, dst: '5.6.7.8', dstPort: 2, payload: Buffer.from('x') });
        await w.close();
        const frames = [...readFramesSync(w.toBuffer())];
        assert.equal(frames.length, tsMs.length);
        frames.forEach((f, i) => {
          const t = tsMs[i]!;
          assert.equal(f.tsSec, Math.floor(t / 1000), `${byteOrder} ns=${nanosecond}`);
          assert.equal(f.tsNsec, Math.round(((t - Math.floor(t / 1000) * 1000) * 1e6) / (nanosecond ? 1 : 1000)) * (nanosecond ? 1 : 1000));
          assert.equal(f.linkType, LinkType.ETHERNET);
          assert.equal(f.interfaceId, 0);
        });
      }
    }
  });

  it('writes raw IP, IPv4-only, IPv6-only and BSD loopback files that read back', async () => {
    const cases: [number, UdpDatagramInput[]][] = [
      [LinkType.RAW, sampleDatagrams(9)],
      [LinkType.IPV4, sampleDatagrams(9).filter((d) => !String(d.src).includes(':'))],
      [LinkType.IPV6, sampleDatagrams(9).filter((d) => String(d.src).includes(':'))],
      [LinkType.NULL, sampleDatagrams(9)],
    ];
    for (const [linkType, input] of cases) {
      for (const byteOrder of ['le', 'be'] as const) {
        const w = PcapWriter.memory({ linkType, byteOrder });
        for (const d of input) await w.writeUdp(d);
        await w.close();
        const r = readUdpSync(w.toBuffer());
        assertSame([...r], input);
        assert.equal(r.stats.udp, input.length, `link type ${linkType}`);
      }
    }
    const w = PcapWriter.memory({ linkType: LinkType.IPV4 });
    assert.throws(
      () => w.writeUdp({ tsMs: 0, src: '::1', srcPort: 1, dst: '::2', dstPort: 2, payload: Buffer.alloc(0) }),
      /IPv6 packet in a LINKTYPE_IPV4 file/,
    );
  });

  it('writes correct IPv4 header and UDP/TCP checksums', async () => {
    const w = PcapWriter.memory({ linkType: LinkType.RAW });
    await w.writeUdp({ tsMs: 1, src: '10.1.2.3', srcPort: 5000, dst: '10.3.2.1', dstPort: 53, payload: Buffer.from('abc'), ttl: 3, id: 77 });
    await w.writeIp(2, buildTcpPacket({ src: '10.1.2.3', dst: '10.3.2.1', srcPort: 1, dstPort: 2, flags: 0x12, payload: Buffer.from('hello') }));
    await w.close();
    const frames = [...readFramesSync(w.toBuffer())];
    for (const f of frames) {
      assert.equal(internetChecksum(f.data, 0, 20), 0, 'IPv4 header checksum verifies');
      // Transport checksum over pseudo-header + segment verifies to 0 as well.
      const seg = f.data.subarray(20);
      const pseudo = Buffer.concat([f.data.subarray(12, 20), Buffer.from([0, f.data[9]!, seg.length >> 8, seg.length & 0xff])]);
      assert.equal(internetChecksum(Buffer.concat([pseudo, seg])), 0);
    }
    assert.equal(frames[0]!.data[8], 3);
    assert.equal(frames[0]!.data.readUInt16BE(4), 77);
  });

  it('counts non-UDP frames and keeps the UDP ones around them', async () => {
    const w = PcapWriter.memory();
    await w.writeUdp({ tsMs: 1, src: '10.0.0.1', srcPort: 1, dst: '10.0.0.2', dstPort: 2, payload: Buffer.from('a') });
    await w.writeIp(2, buildTcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, flags: 2 }));
    // ARP over Ethernet.
    await w.writePacket(3, Buffer.concat([Buffer.alloc(12, 0xff), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]));
    await w.writeIp(4, buildUdpPacket({ src: '::1', dst: '::2', srcPort: 3, dstPort: 4, payload: Buffer.from('b') }));
    await w.close();
    const r = readUdpSync(w.toBuffer());
    const got = [...r];
    assert.deepEqual(
      got.map((d) => [d.index, d.src, d.payload.toString()]),
      [
        [1, '10.0.0.1', 'a'],
        [4, '::1', 'b'],
      ],
    );
    assert.equal(r.stats.frames, 4);
    assert.equal(r.stats.skippedNonUdp, 2);
    assertBalanced(r.stats);
  });

  it('a reader refuses a second pass; a writer refuses writes after close', async () => {
    const w = PcapWriter.memory();
    await w.writeUdp({ tsMs: 1, src: '10.0.0.1', srcPort: 1, dst: '10.0.0.2', dstPort: 2, payload: Buffer.from('a') });
    await w.close();
    assert.throws(() => w.writeUdp({ tsMs: 1, src: '10.0.0.1', srcPort: 1, dst: '10.0.0.2', dstPort: 2, payload: Buffer.alloc(0) }), /closed/);
    const r = readUdpSync(w.toBuffer());
    assert.equal([...r].length, 1);
    assert.throws(() => [...r], /only once/);
    const path = join(dir, 'once.pcap');
    const fw = await PcapWriter.create(path);
    await fw.close();
    const fr = readUdp(path);
    for await (const _ of fr) assert.fail('empty file has no datagrams');
    await assert.rejects(async () => {
      for await (const _ of fr) assert.fail('unreachable');
    }, /only once/);
  });

  it('rejects bad writer input clearly', () => {
    const w = PcapWriter.memory();
    assert.throws(() => w.writeUdp({ tsMs: 0, src: '10.0.0.1', srcPort: 1, dst: '::1', dstPort: 1, payload: Buffer.alloc(0) }), /same IP version/);
    assert.throws(() => w.writeUdp({ tsMs: 0, src: '10.0.0.1', srcPort: 70000, dst: '10.0.0.2', dstPort: 1, payload: Buffer.alloc(0) }), /port out of range/);
    assert.throws(() => w.writeUdp({ tsMs: 0, src: '10.0.0.1', srcPort: 1, dst: '10.0.0.2', dstPort: 1, payload: Buffer.alloc(70000) }), /exceeds/);
    assert.throws(() => w.writeUdp({ tsMs: 0, src: 'nonsense', srcPort: 1, dst: '10.0.0.2', dstPort: 1, payload: Buffer.alloc(0) }), /not an IP address/);
    assert.throws(() => w.writeUdp({ tsMs: -5, src: '10.0.0.1', srcPort: 1, dst: '10.0.0.2', dstPort: 1, payload: Buffer.alloc(0) }), /bad timestamp/);
    assert.throws(() => w.writeIp(0, Buffer.from([0x50, 0, 0])), /not an IP packet/);
  });

  it('streams a capture larger than its chunk size with frames straddling chunks', async () => {
    const path = join(dir, 'big.pcap');
    const w = await PcapWriter.create(path, { bufferSize: 8192 });
    const n = 3000;
    for (let i = 0; i < n; i++) {
      await w.writeUdp({ tsMs: 1e12 + i, src: '10.9.8.7', srcPort: 9, dst: '10.7.8.9', dstPort: 9, payload: Buffer.alloc(i % 1500, i & 0xff) });
    }
    await w.close();
    const r = readFrames(path, { chunkSize: 65536 });
    let i = 0;
    for await (const f of r) {
      assert.equal(f.index, i + 1);
      assert.equal(f.data.length, 14 + 28 + (i % 1500));
      i++;
    }
    assert.equal(i, n);
    assert.equal(r.stats.bytes, (await stat(path)).size);
  });
});

describe('pcap variants', () => {
  it("reads Kuznetzov's patched-libpcap format (24-byte record headers) in both byte orders", () => {
    const ip = buildUdpPacket({ src: '10.1.1.1', dst: '10.2.2.2', srcPort: 7, dstPort: 2055, payload: Buffer.from('kz') });
    for (const le of [true, false]) {
      const u32 = (v: number) => {
        const b = Buffer.alloc(4);
        if (le) b.writeUInt32LE(v);
        else b.writeUInt32BE(v);
        return b;
      };
      const u16 = (v: number) => {
        const b = Buffer.alloc(2);
        if (le) b.writeUInt16LE(v);
        else b.writeUInt16BE(v);
        return b;
      };
      const header = Buffer.concat([u32(0xa1b2cd34), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(LinkType.RAW)]);
      const rec = (sec: number) => Buffer.concat([u32(sec), u32(500_000), u32(ip.length), u32(ip.length), u32(3), u16(0x0800), Buffer.from([0, 0]), ip]);
      const r = readUdpSync(Buffer.concat([header, rec(100), rec(101)]));
      const got = [...r];
      assert.deepEqual(
        got.map((d) => [d.index, d.tsMs, d.src, d.payload.toString()]),
        [
          [1, 100_500, '10.1.1.1', 'kz'],
          [2, 101_500, '10.1.1.1', 'kz'],
        ],
      );
    }
  });
});
