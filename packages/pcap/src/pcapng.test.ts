import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkType, PcapWriter, PcapngBuilder, buildUdpPacket, readAllUdp, readFrames, readFramesSync, readUdpSync, type PcapFrame } from './index.js';

const run = promisify(execFile);

const udp4 = (i: number) => buildUdpPacket({ src: `10.0.0.${i}`, dst: '10.0.0.254', srcPort: 1000 + i, dstPort: 2055, payload: Buffer.from(`p${i}`) });
const udp6 = (i: number) => buildUdpPacket({ src: `2001:db8::${i}`, dst: '2001:db8::fe', srcPort: 1000 + i, dstPort: 4739, payload: Buffer.from(`q${i}`) });
const eth = (ip: Buffer) => Buffer.concat([Buffer.alloc(12, 2), Buffer.from(ip[0]! >> 4 === 6 ? [0x86, 0xdd] : [0x08, 0x00]), ip]);

/** tshark's reading of a capture: frame number, epoch time, addresses, ports. */
async function tsharkView(path: string): Promise<string[][]> {
  const { stdout } = await run(
    'tshark',
    [
      '-r',
      path,
      '-T',
      'fields',
      '-E',
      'separator=,',
      '-e',
      'frame.number',
      '-e',
      'frame.time_epoch',
      '-e',
      'ip.src',
      '-e',
      'ipv6.src',
      '-e',
      'udp.srcport',
      '-e',
      'udp.dstport',
    ],
    { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 64 << 20 },
  );
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(','));
}

describe('pcapng', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haystack-pcapng-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const nanosecond of [false, true]) {
    it(`a pcap (${nanosecond ? 'ns' : 'µs'}) converted by editcap and by tshark -F pcapng reads back identically`, async () => {
      const src = join(dir, `src-${nanosecond}.pcap`);
      const w = await PcapWriter.create(src, { nanosecond });
      for (let i = 0; i < 40; i++) {
        const v6 = i % 4 === 0;
        await w.writeUdp({
          tsMs: 1_710_000_000_000 + i * 1001.001001,
          src: v6 ? `2001:db8:${i}::1` : `192.0.2.${i}`,
          srcPort: 30000 + i,
          dst: v6 ? '::ffff:1.2.3.4' : '127.0.0.1',
          dstPort: 2055,
          payload: Buffer.alloc(i * 37, i),
        });
      }
      await w.close();
      const viaEditcap = join(dir, `editcap-${nanosecond}.pcapng`);
      const viaTshark = join(dir, `tshark-${nanosecond}.pcapng`);
      await run('editcap', ['-F', 'pcapng', src, viaEditcap]);
      await run('tshark', ['-r', src, '-F', 'pcapng', '-w', viaTshark]);

      const want = await readAllUdp(src);
      const wantFrames = [...readFramesSync(await readFile(src))];
      for (const path of [viaEditcap, viaTshark]) {
        const got = await readAllUdp(path, { chunkSize: 333 });
        assert.equal(got.stats.format, 'pcapng');
        assert.equal(got.stats.sections, 1);
        assert.equal(got.stats.interfaces, 1);
        assert.deepEqual(
          got.datagrams.map((d) => ({ ...d, payload: d.payload.toString('hex') })),
          want.datagrams.map((d) => ({ ...d, payload: d.payload.toString('hex') })),
        );
        const frames: PcapFrame[] = [];
        for await (const f of readFrames(path)) frames.push(f);
        assert.deepEqual(
          frames.map((f) => [f.index, f.tsSec, f.tsNsec, f.linkType, f.originalLength]),
          wantFrames.map((f) => [f.index, f.tsSec, f.tsNsec, f.linkType, f.originalLength]),
        );
      }
      // And tshark agrees with our reader on numbering, times and address text.
      const view = await tsharkView(viaEditcap);
      assert.equal(view.length, want.datagrams.length);
      view.forEach(([frame, epoch, ip4, ip6, sport, dport], i) => {
        const d = want.datagrams[i]!;
        const f = wantFrames[i]!;
        assert.equal(Number(frame), d.index);
        assert.equal(epoch, `${f.tsSec}.${String(f.tsNsec).padStart(9, '0')}`);
        assert.equal(ip4 || ip6, d.src);
        assert.equal(Number(sport), d.srcPort);
        assert.equal(Number(dport), d.dstPort);
      });
    });
  }

  it('several sections in both byte orders, several interfaces, timestamp resolutions and offsets, SPB, OPB, unknown blocks', () => {
    const b = new PcapngBuilder()
      .section('le')
      .interface(LinkType.ETHERNET) // if 0: default µs
      .raw(4, Buffer.from([1, 0, 4, 0, 10, 0, 0, 1, 0x68, 0x00, 0, 0, 0, 0, 0, 0])) // name resolution
      .interface(LinkType.RAW, { tsresol: 9 }) // if 1: ns
      .enhanced(0, 1_700_000_000_000_001n, eth(udp4(1)))
      .enhanced(1, 1_700_000_000_123_456_789n, udp6(2), udp6(2).length, [{ code: 1, value: Buffer.from('comment') }])
      .raw(5, Buffer.alloc(20)) // interface statistics
      .raw(0x00000bad, Buffer.from('custom'))
      .section('be')
      .interface(LinkType.RAW, { tsresol: 0x80 | 10, tsoffsetSec: 1_000_000_000n }) // 2^-10 s units, +1e9 s
      .interface(LinkType.LINUX_SLL2, { tsresol: 3 }) // ms
      .enhanced(0, 700_000_000n * 1024n + 512n, udp4(3)) // 700000000.5 s + offset
      .obsolete(1, 1_700_000_000_250n, Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), udp4(4)]))
      .enhanced(5, 0n, udp4(5)) // undefined interface: counted, skipped
      .section('le')
      .interface(LinkType.RAW, { snaplen: 29 })
      .simple(udp4(6).subarray(0, 29), udp4(6).length) // 30-byte packet cut at snaplen 29: truncated
      .section('le')
      .interface(LinkType.RAW)
      .simple(udp6(7), udp6(7).length)
      .toBuffer();
    const r = readUdpSync(b);
    const got = [...r];
    assert.deepEqual(
      got.map((d) => [d.index, d.src, d.srcPort, d.payload.toString()]),
      [
        [1, '10.0.0.1', 1001, 'p1'],
        [2, '2001:db8::2', 1002, 'q2'],
        [3, '10.0.0.3', 1003, 'p3'],
        [4, '10.0.0.4', 1004, 'p4'],
        [7, '2001:db8::7', 1007, 'q7'],
      ],
    );
    assert.equal(got[0]!.tsMs, 1_700_000_000_000.001);
    assert.equal(got[2]!.tsMs, (700_000_000.5 + 1_000_000_000) * 1000);
    assert.equal(got[3]!.tsMs, 1_700_000_000_250);
    assert.ok(Number.isNaN(got[4]!.tsMs), 'simple packet blocks carry no time');
    assert.equal(r.stats.sections, 4);
    assert.equal(r.stats.interfaces, 6);
    assert.equal(r.stats.skippedBlocks, 3);
    assert.equal(r.stats.frames, 7);
    assert.equal(r.stats.malformed, 1);
    assert.equal(r.stats.truncated, 1);
    const frames = [...readFramesSync(b)];
    assert.deepEqual(
      frames.map((f) => [f.index, f.interfaceId, f.linkType]),
      [
        [1, 0, LinkType.ETHERNET],
        [2, 1, LinkType.RAW],
        [3, 0, LinkType.RAW],
        [4, 1, LinkType.LINUX_SLL2],
        [6, 0, LinkType.RAW],
        [7, 0, LinkType.RAW],
      ],
    );
    assert.equal(frames[1]!.tsSec, 1_700_000_000);
    assert.equal(frames[1]!.tsNsec, 123_456_789);
  });

  it('tshark reads our hand-built big-endian multi-interface file the same way', async () => {
    const b = new PcapngBuilder()
      .section('be')
      .interface(LinkType.ETHERNET)
      .interface(LinkType.RAW, { tsresol: 9 })
      .enhanced(0, 1_700_000_000_000_001n, eth(udp4(1)))
      .enhanced(1, 1_700_000_000_123_456_789n, udp6(2))
      .section('le')
      .interface(LinkType.RAW, { tsresol: 3 })
      .enhanced(0, 1_700_000_000_250n, udp4(3))
      .toBuffer();
    const path = join(dir, 'hand.pcapng');
    await writeFile(path, b);
    const view = await tsharkView(path);
    const frames = [...readFramesSync(b)];
    const ours = [...readUdpSync(b)];
    assert.equal(view.length, 3);
    view.forEach(([frame, epoch, ip4, ip6, sport], i) => {
      assert.equal(Number(frame), ours[i]!.index);
      assert.equal(epoch, `${frames[i]!.tsSec}.${String(frames[i]!.tsNsec).padStart(9, '0')}`);
      assert.equal(ip4 || ip6, ours[i]!.src);
      assert.equal(Number(sport), ours[i]!.srcPort);
    });
  });
});
