/** pcap/pcapng LINKTYPE_* values this package understands (https://www.tcpdump.org/linktypes.html). */
export const LinkType = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  NULL: 0,
  ETHERNET: 1,
  /** Some old files carry the platform DLT_RAW values instead of LINKTYPE_RAW. */
  DLT_RAW_12: 12,
  DLT_RAW_14: 14,
  RAW: 101,
  /** OpenBSD loopback: like NULL but the family is always big-endian. */
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
export type LinkTypeValue = (typeof LinkType)[keyof typeof LinkType];
