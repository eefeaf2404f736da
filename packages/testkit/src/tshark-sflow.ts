// tshark's sFlow dissector as the reference decoder for sFlow v5: one entry per flow sample.
import { execFile } from 'node:child_process';

export interface TsharkSflowSample {
  frame: number;
  agent: string;
  subAgent: number;
  datagramSequence: number;
  sampleSequence: number;
  sourceIndex: number;
  samplingRate: number;
  samplePool: number;
  drops: number;
  inIf: number | undefined;
  frameLength: number | undefined;
  srcMac: string | undefined;
  dstMac: string | undefined;
  src: string | undefined;
  dst: string | undefined;
  proto: number | undefined;
  srcPort: number | undefined;
  dstPort: number | undefined;
  vlan: number | undefined;
}

type Json = string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
const num = (v: Json | undefined): number | undefined => {
  const s = str(v);
  return s === undefined || s === '' ? undefined : Number(s);
};

/** Every object under `o` (depth first) whose key starts with `prefix`. */
function childrenNamed(o: Obj, prefix: string): Obj[] {
  const out: Obj[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (!k.startsWith(prefix)) continue;
    for (const x of Array.isArray(v) ? v : [v]) if (isObj(x)) out.push(x);
  }
  return out;
}

/** The first value of `key` anywhere under `o` (first in document order). */
function find(o: Json, key: string): Json | undefined {
  if (Array.isArray(o)) {
    for (const x of o) {
      const r = find(x, key);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  if (!isObj(o)) return undefined;
  if (key in o) return o[key];
  for (const v of Object.values(o)) {
    const r = find(v, key);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** The last value of `key` anywhere under `o`. */
function lastOf(o: Json, key: string): Json | undefined {
  let last: Json | undefined;
  const walk = (x: Json): void => {
    if (Array.isArray(x)) x.forEach(walk);
    else if (isObj(x)) {
      if (key in x) last = x[key];
      Object.values(x).forEach(walk);
    }
  };
  walk(o);
  return last;
}

/** IPv6: the transport protocol is the last extension header's next-header, as a flow record gives it. */
function ipv6Transport(tree: Json): Json | undefined {
  for (const k of ['ipv6.fraghdr.nxt', 'ipv6.dstopts.nxt', 'ipv6.routing.nxt', 'ipv6.hopopts.nxt']) {
    const v = lastOf(tree, k);
    if (v !== undefined) return v;
  }
  return lastOf(tree, 'ipv6.nxt');
}

export async function tsharkSflow(capturePath: string, udpPort: number): Promise<TsharkSflowSample[]> {
  const json = await new Promise<string>((resolve, reject) =>
    execFile(
      'tshark',
      ['-r', capturePath, '-d', `udp.port==${udpPort},sflow`, '-T', 'json', '--no-duplicate-keys', '-J', 'frame sflow'],
      { maxBuffer: 1 << 30, env: { ...process.env, TZ: 'UTC' } },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
  const doc = JSON.parse(json === '' ? '[]' : json) as Obj[];
  const out: TsharkSflowSample[] = [];
  for (const pkt of doc) {
    const layers = (pkt['_source'] as Obj)['layers'] as Obj;
    const frame = num(find(layers['frame']!, 'frame.number'))!;
    for (const sf of Array.isArray(layers['sflow']) ? layers['sflow'] : [layers['sflow']!]) {
      if (!isObj(sf)) continue;
      for (const s of childrenNamed(sf, 'Flow sample')) {
        const hdr = childrenNamed(s, 'Raw packet header')[0];
        const tree = hdr ? hdr['sflow_245.header_tree'] : undefined;
        const sw = childrenNamed(s, 'Extended switch data')[0];
        // Top-level layers of the sampled header only: an ICMP error quotes another IP header
        // inside its own layer, which is not the packet's. Tunnels (IP-in-IP) repeat "ip": the
        // inner one gives the 5-tuple, as our decoder takes it.
        const top = isObj(tree) ? tree : {};
        const layer = (k: string): Obj | undefined => {
          const v = top[k];
          const list = Array.isArray(v) ? v.filter(isObj) : isObj(v) ? [v] : [];
          return list[list.length - 1];
        };
        const ip4 = layer('ip');
        const ip6 = layer('ipv6');
        const l4 = layer('tcp') ?? layer('udp');
        const ipSrc = ip4 ? ip4['ip.src'] : ip6 ? ip6['ipv6.src'] : undefined;
        const ipDst = ip4 ? ip4['ip.dst'] : ip6 ? ip6['ipv6.dst'] : undefined;
        const proto = ip4 ? ip4['ip.proto'] : ip6 ? ipv6Transport(ip6) : undefined;
        out.push({
          frame,
          agent: str(sf['sflow_245.agent'] ?? sf['sflow_245.agentv6'])!,
          subAgent: num(sf['sflow_245.sub_agent_id'])!,
          datagramSequence: num(sf['sflow_245.sequence_number'])!,
          sampleSequence: num(s['sflow.flow_sample.sequence_number'])!,
          sourceIndex: num(s['sflow.flow_sample.index'])!,
          samplingRate: num(s['sflow.flow_sample.sampling_rate'])!,
          samplePool: num(s['sflow.flow_sample.sample_pool'])!,
          drops: num(s['sflow.flow_sample.dropped_packets'])!,
          inIf: num(s['sflow.flow_sample.input_interface']),
          frameLength: hdr ? num(hdr['sflow_245.header.frame_length']) : undefined,
          srcMac: tree ? str(find(tree, 'eth.src')) : undefined,
          dstMac: tree ? str(find(tree, 'eth.dst')) : undefined,
          src: str(ipSrc),
          dst: str(ipDst),
          proto: num(proto),
          srcPort: l4 ? num(l4['tcp.srcport'] ?? l4['udp.srcport']) : undefined,
          dstPort: l4 ? num(l4['tcp.dstport'] ?? l4['udp.dstport']) : undefined,
          vlan: sw ? num(sw['sflow_245.vlan.in']) : undefined,
        });
      }
    }
  }
  return out;
}
