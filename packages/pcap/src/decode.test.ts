import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LinkType, PcapWriter, buildUdpPacket, formatIp, parseIp, readUdpSync, type PcapStats } from './index.js';

const PAYLOAD = Buffer.from('netflow!');
const v4 = () => buildUdpPacket({ src: '198.51.100.7', dst: '203.0.113.9', srcPort: 40000, dstPort: 2055, payload: PAYLOAD });
const v6 = () => buildUdpPacket({ src: '2001:db8::7', dst: '2001:db8::9', srcPort: 40000, dstPort: 4739, payload: PAYLOAD });
const eth = (type: number, body: Buffer) => Buffer.concat([Buffer.alloc(6, 2), Buffer.alloc(6, 4), u16(type), body]);
function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

/** Writes frames of one link type (in the given byte order) and reads UDP back. */
async function roundTrip(linkType: number, frames: Buffer[], byteOrder: 'le' | 'be' = 'le') {
  const w = PcapWriter.memory({ linkType, byteOrder });
  let t = 1_600_000_000_000;
  for (const f of frames) await w.writePacket(t++, f);
  await w.close();
  const r = readUdpSync(w.toBuffer());
  return { datagrams: [...r], stats: r.stats };
}

function only(stats: PcapStats, key: keyof PcapStats, n: number): void {
  const counters = ['udp', 'skippedNonUdp', 'truncated', 'fragments', 'malformed', 'unsupportedLinkType'] as const;
  for (const c of counters) assert.equal(stats[c], c === key ? n : 0, `${c}`);
}

describe('link layers and IP', () => {
  it('Ethernet with 802.1Q and stacked 802.1ad/802.1Q tags', async () => {
    const tag = (tpid: number, vid: number) => Buffer.concat([u16(tpid), u16(vid)]);
    const frames = [
      eth(0x0800, v4()),
      Buffer.concat([Buffer.alloc(12, 1), tag(0x8100, 100), u16(0x0800), v4()]),
      Buffer.concat([Buffer.alloc(12, 1), tag(0x88a8, 10), tag(0x8100, 20), u16(0x86dd), v6()]),
      Buffer.concat([Buffer.alloc(12, 1), tag(0x9100, 10), tag(0x8100, 20), u16(0x0800), v4()]),
    ];
    const { datagrams, stats } = await roundTrip(LinkType.ETHERNET, frames);
    assert.equal(datagrams.length, 4);
    assert.deepEqual(
      datagrams.map((d) => [d.src, d.dst, d.srcPort, d.dstPort, d.payload.toString()]),
      [
        ['198.51.100.7', '203.0.113.9', 40000, 2055, 'netflow!'],
        ['198.51.100.7', '203.0.113.9', 40000, 2055, 'netflow!'],
        ['2001:db8::7', '2001:db8::9', 40000, 4739, 'netflow!'],
        ['198.51.100.7', '203.0.113.9', 40000, 2055, 'netflow!'],
      ],
    );
    only(stats, 'udp', 4);
  });

  it('Linux cooked captures SLL (113) and SLL2 (276)', async () => {
    const sll = (proto: number, ip: Buffer) => {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0); // packet type: to us
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      h.writeUInt16BE(proto, 14);
      return Buffer.concat([h, ip]);
    };
    const sll2 = (proto: number, ip: Buffer) => {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(proto, 0);
      h.writeUInt32BE(3, 4); // ifindex
      h.writeUInt16BE(1, 8);
      h[11] = 6;
      return Buffer.concat([h, ip]);
    };
    let r = await roundTrip(LinkType.LINUX_SLL, [sll(0x0800, v4()), sll(0x86dd, v6()), sll(0x0806, Buffer.alloc(28))]);
    assert.deepEqual(
      r.datagrams.map((d) => d.src),
      ['198.51.100.7', '2001:db8::7'],
    );
    assert.equal(r.stats.skippedNonUdp, 1);
    r = await roundTrip(LinkType.LINUX_SLL2, [sll2(0x86dd, v6()), sll2(0x0800, v4()), sll2(0x0800, Buffer.alloc(3))]);
    assert.deepEqual(
      r.datagrams.map((d) => d.src),
      ['2001:db8::7', '198.51.100.7'],
    );
    assert.equal(r.stats.truncated, 1);
  });

  it('BSD loopback in either host byte order, whatever AF_INET6 value the OS used', async () => {
    const fam = (v: number, le: boolean) => {
      const b = Buffer.alloc(4);
      if (le) b.writeUInt32LE(v);
      else b.writeUInt32BE(v);
      return b;
    };
    for (const le of [true, false]) {
      const frames = [Buffer.concat([fam(2, le), v4()]), ...[10, 24, 28, 30].map((f) => Buffer.concat([fam(f, le), v6()])), Buffer.concat([fam(7, le), v4()])];
      // The file's byte order is independent of the capturing host's.
      const r = await roundTrip(LinkType.NULL, frames, le ? 'be' : 'le');
      assert.equal(r.datagrams.length, 5);
      assert.equal(r.stats.skippedNonUdp, 1);
    }
    const r = await roundTrip(LinkType.LOOP, [Buffer.concat([fam(2, false), v4()])]);
    assert.equal(r.datagrams.length, 1);
  });

  it('raw IP link types 101, 228, 229 and the legacy DLT_RAW values', async () => {
    for (const lt of [LinkType.RAW, LinkType.DLT_RAW_12, LinkType.DLT_RAW_14]) {
      const r = await roundTrip(lt, [v4(), v6(), Buffer.from([0x10, 0, 0, 0])]);
      assert.equal(r.datagrams.length, 2);
      assert.equal(r.stats.malformed, 1, 'IP version 1');
    }
    assert.equal((await roundTrip(LinkType.IPV4, [v4()])).datagrams.length, 1);
    assert.equal((await roundTrip(LinkType.IPV6, [v6()])).datagrams.length, 1);
    // A v6 packet in a v4-only file does not decode as v4.
    assert.equal((await roundTrip(LinkType.IPV4, [v6()])).stats.malformed, 1);
  });

  it('IPv4 options are skipped; fragments are counted and skipped', async () => {
    const base = v4();
    // Insert 8 bytes of options (NOPs + EOL): IHL 7.
    const withOpts = Buffer.concat([base.subarray(0, 20), Buffer.from([1, 1, 1, 1, 1, 1, 1, 0]), base.subarray(20)]);
    withOpts[0] = 0x47;
    withOpts.writeUInt16BE(withOpts.length, 2);
    const firstFrag = Buffer.from(base);
    firstFrag.writeUInt16BE(0x2000, 6); // MF, offset 0
    const laterFrag = Buffer.from(base);
    laterFrag.writeUInt16BE(0x0003, 6); // offset 24 bytes
    const tcpLaterFrag = Buffer.from(laterFrag);
    tcpLaterFrag[9] = 6;
    const r = await roundTrip(LinkType.RAW, [withOpts, firstFrag, laterFrag, tcpLaterFrag, v4()]);
    assert.equal(r.datagrams.length, 2);
    assert.equal(r.datagrams[0]!.payload.toString(), 'netflow!');
    assert.equal(r.datagrams[0]!.index, 1);
    assert.equal(r.datagrams[1]!.index, 5);
    assert.equal(r.stats.fragments, 3);
  });

  it('IPv6 extension headers are walked; fragments counted', async () => {
    const p = v6();
    const udp = p.subarray(40);
    const hopByHop = Buffer.from([60, 0, 1, 4, 0, 0, 0, 0]); // next: dst opts, PadN
    const dstOpts = Buffer.from([17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // 16 bytes, next: UDP
    const hdr = Buffer.from(p.subarray(0, 40));
    hdr[6] = 0;
    hdr.writeUInt16BE(hopByHop.length + dstOpts.length + udp.length, 4);
    const withExt = Buffer.concat([hdr, hopByHop, dstOpts, udp]);
    const fragHdr = (offsetAndFlags: number) => Buffer.from([17, 0, offsetAndFlags >> 8, offsetAndFlags & 0xff, 0, 0, 0, 1]);
    const frag = (of: number) => {
      const h = Buffer.from(p.subarray(0, 40));
      h[6] = 44;
      h.writeUInt16BE(8 + udp.length, 4);
      return Buffer.concat([h, fragHdr(of), udp]);
    };
    const noNext = Buffer.from(p.subarray(0, 40));
    noNext[6] = 59;
    noNext.writeUInt16BE(0 + 8, 4);
    const r = await roundTrip(LinkType.RAW, [withExt, frag(0x0001), frag(0x0010), frag(0x0000), Buffer.concat([noNext, Buffer.alloc(8)])]);
    // An atomic fragment (offset 0, no M flag) is a whole datagram.
    assert.deepEqual(
      r.datagrams.map((d) => d.index),
      [1, 4],
    );
    assert.equal(r.datagrams[0]!.payload.toString(), 'netflow!');
    assert.equal(r.stats.fragments, 2);
    assert.equal(r.stats.skippedNonUdp, 1);
  });

  it('snaplen-cut frames are counted as truncated, contradictory headers as malformed', async () => {
    const p = v4();
    const frames = [
      p.subarray(0, 10), // cut inside the IP header
      p.subarray(0, 24), // cut inside the UDP header
      p.subarray(0, p.length - 1), // cut inside the payload
    ];
    const badUdpLen = Buffer.from(p);
    badUdpLen.writeUInt16BE(4, 24);
    const udpBeyondIp = Buffer.from(p);
    udpBeyondIp.writeUInt16BE(500, 24);
    const badIhl = Buffer.from(p);
    badIhl[0] = 0x43;
    const w = PcapWriter.memory({ linkType: LinkType.RAW });
    for (const f of frames) await w.writePacket(1, f, p.length);
    for (const f of [badUdpLen, udpBeyondIp, badIhl]) await w.writePacket(2, f);
    // Ethernet padding after a short datagram is fine: the UDP length decides.
    await w.writePacket(3, Buffer.concat([p, Buffer.alloc(6)]));
    await w.close();
    const r = readUdpSync(w.toBuffer());
    const got = [...r];
    assert.equal(got.length, 1);
    assert.equal(got[0]!.payload.toString(), 'netflow!');
    assert.equal(r.stats.truncated, 3);
    assert.equal(r.stats.malformed, 3);
  });

  it('unknown link types are counted, not guessed', async () => {
    const r = await roundTrip(105 /* 802.11 */, [v4(), v4()]);
    only(r.stats, 'unsupportedLinkType', 2);
  });

  it('addresses print like inet_ntop', () => {
    const cases: [string, string][] = [
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::192.0.2.1', '::192.0.2.1'],
      ['::ffff:0:1', '::ffff:0.0.0.1'],
      ['fe80:0:0:0:1::', 'fe80::1:0:0:0'], // equal runs: the first one is compressed
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.255'],
    ];
    for (const [input, want] of cases) assert.equal(formatIp(parseIp(input)), want, input);
    assert.throws(() => parseIp('1.2.3'), /not an IP address/);
    assert.throws(() => formatIp(Buffer.alloc(5)), /4 or 16 bytes/);
  });
});
