// Datagram in, flow records in a batch out; no I/O. One home for every protocol Haystack reads.
export * from './template/index.js';
export { decodeV5, V5_HEADER, V5_RECORD } from './netflow/v5.js';
export { decodeV9, V9_HEADER } from './netflow/v9.js';
export { decodeIpfix, IPFIX_HEADER } from './ipfix/ipfix.js';
export * from './encode.js';
export * from './decoder.js';
export * from './checkpoint.js';
export {
  decodeSflow,
  sflowState,
  sflowSources,
  restoreSflowSources,
  SFLOW_VERSION,
  type SflowSourceState,
  type InterfaceCounters,
  type SflowAgentState,
} from './sflow/sflow.js';
export { parseHeader, LAYER_ETHERNET, LAYER_IPV4, LAYER_IPV6, LAYER_IP, LAYER_TRANSPORT } from './packet/header.js';
export {
  buildSflowDatagram,
  buildFrame,
  type FrameSpec,
  type FlowRecordSpec,
  type SampleSpec,
  type DatagramSpec,
  type FlowSampleSpec,
  type CounterSampleSpec,
} from './sflow/encode.js';
export * from './nfdump/nffile.js';
export { lz4DecompressBlock } from './nfdump/lz4.js';
