import { FlowDecoder } from '@haystack/decoders';
import { BatchWriter } from '@haystack/flow-core';
import { readUdp } from '@haystack/pcap';
import { UserError } from './runtime.js';

/**
 * A capture that holds no flow export (a capture of web and DNS traffic, of the wrong port) is
 * an error with one line saying what it holds, not an empty success: no record was decoded and
 * no datagram was a well-formed NetFlow v5/v9, IPFIX or sFlow v5 export.
 */
export function noFlowExports(file: string, decoder: FlowDecoder): void {
  let datagrams = 0;
  let unknown = 0;
  let malformed = 0;
  for (const c of decoder.exporters.values()) {
    datagrams += c.packets;
    unknown += c.unknownVersion;
    malformed += c.malformedPackets;
  }
  let records = 0;
  let templates = 0;
  for (const d of decoder.registry.all()) {
    records += d.counters.records;
    templates += d.templates.size;
  }
  if (records > 0 || templates > 0 || datagrams - unknown - malformed > 0) return;
  const what =
    datagrams === 0
      ? 'no UDP datagram'
      : `${datagrams} UDP datagrams from ${decoder.exporters.size} sources, none a flow export (${unknown} of no flow protocol, ${malformed} malformed)`;
  throw new UserError(
    `${file}: no NetFlow, IPFIX or sFlow export in this capture: ${what}; capture the exporters' datagrams to the collector (e.g. tcpdump -w exports.pcap udp port 2055 or 4739 or 6343)`,
    1,
  );
}

/**
 * Before any work (a detector, a store): a small capture's datagrams decoded in memory, the same
 * verdict as `noFlowExports`. A capture longer than `limit` datagrams is left to the check after
 * the replay (exports may start late in it).
 */
export async function checkFlowExports(file: string, limit = 5000): Promise<void> {
  const decoder = new FlowDecoder();
  const w = new BatchWriter();
  let n = 0;
  for await (const d of readUdp(file)) {
    if (++n > limit) return;
    decoder.decode(d.payload, d.src, d.tsMs === d.tsMs ? d.tsMs : Date.now(), w);
    if (w.count > 0) return;
  }
  noFlowExports(file, decoder);
}
