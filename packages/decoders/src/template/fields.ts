/**
 * The information elements Haystack decodes. NetFlow v9 field types 1–127 share their
 * numbers with IPFIX IANA elements, so one table serves both protocols. Anything not
 * listed here (and every enterprise-specific element) is skipped by length.
 */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  ingressInterface: 10,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  egressInterface: 14,
  /** Physical ports (RFC 5102): the input/output interface when 10/14 are absent. */
  ingressPhysicalInterface: 252,
  egressPhysicalInterface: 253,
  bgpSourceAsNumber: 16,
  bgpDestinationAsNumber: 17,
  flowEndSysUpTime: 21,
  flowStartSysUpTime: 22,
  postOctetDeltaCount: 23,
  postPacketDeltaCount: 24,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  samplingInterval: 34,
  samplingAlgorithm: 35,
  samplerId: 48,
  samplerMode: 49,
  samplerRandomInterval: 50,
  sourceMacAddress: 56,
  postDestinationMacAddress: 57,
  vlanId: 58,
  ipVersion: 60,
  flowDirection: 61,
  destinationMacAddress: 80,
  postSourceMacAddress: 81,
  octetTotalCount: 85,
  packetTotalCount: 86,
  flowId: 148,
  observationDomainId: 149,
  flowStartSeconds: 150,
  flowEndSeconds: 151,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  flowStartMicroseconds: 154,
  flowEndMicroseconds: 155,
  flowStartNanoseconds: 156,
  flowEndNanoseconds: 157,
  flowStartDeltaMicroseconds: 158,
  flowEndDeltaMicroseconds: 159,
  systemInitTimeMilliseconds: 160,
  udpSourcePort: 180,
  udpDestinationPort: 181,
  tcpSourcePort: 182,
  tcpDestinationPort: 183,
  initiatorOctets: 231,
  responderOctets: 232,
  firewallEvent: 233,
  dot1qVlanId: 243,
  initiatorPackets: 298,
  responderPackets: 299,
  selectorId: 302,
  selectorAlgorithm: 304,
  samplingPacketInterval: 305,
  samplingPacketSpace: 306,
  samplingSize: 309,
  samplingPopulation: 310,
  dataLinkFrameSize: 312,
  ipHeaderPacketSection: 313,
  ipPayloadPacketSection: 314,
  dataLinkFrameSection: 315,
  /** Cisco ASA NSEL's firewall event in NetFlow v9 before IANA's 233 (NF_F_FW_EVENT_84). */
  nselEventV84: 40005,
} as const;

/** RFC 5103: reverse-direction elements are the IANA ones under this enterprise number. */
export const REVERSE_PEN = 29305;

/** NSEL / IPFIX firewallEvent values. */
export const FW_EVENT = { ignore: 0, created: 1, deleted: 2, denied: 3, alert: 4, update: 5 } as const;

/** IPFIX variable-length marker (RFC 7011 §7). */
export const VARLEN = 0xffff;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2208988800;
