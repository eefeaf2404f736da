export { PcapFormatError } from './errors.js';
export { LinkType, type LinkTypeValue } from './linktype.js';
export { parseIp, formatIp, formatIpv4, formatIpv6 } from './addr.js';
export { internetChecksum, onesSum, finishChecksum } from './checksum.js';
export {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_ICMPV6,
  TcpFlags,
  buildUdpPacket,
  buildTcpPacket,
  buildIcmpPacket,
  encodeUdpPacketInto,
  udpPacketLength,
  ipHeaderLength,
  type IpAddressInput,
  type IpHeaderOptions,
  type UdpPacketOptions,
  type TcpPacketOptions,
  type IcmpPacketOptions,
} from './packets.js';
export { decodeFrame, FrameKind, newUdpLocation, type UdpLocation } from './decode.js';
export { PcapParser, newStats, type PcapFrame, type PcapStats, type ParseOptions } from './parser.js';
export {
  readFrames,
  readFramesSync,
  readUdp,
  readUdpSync,
  readAllUdp,
  type UdpDatagram,
  type ReadOptions,
  type PcapSource,
  type AsyncReader,
  type SyncReader,
} from './reader.js';
export { PcapWriter, type PcapWriterOptions, type UdpDatagramInput } from './writer.js';
export { PcapngBuilder, type PcapngOption } from './pcapng-build.js';
export { captureChunks, fileCompression, sniffCompression, type Compression } from './source.js';
