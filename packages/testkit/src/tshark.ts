// tshark as an independent reference decoder of NetFlow v9 / IPFIX captures. Its JSON output
// is normalised into one plain object per flow record and per options record, so tests can
// compare our decoder's output with Wireshark's reading of the same bytes.
import { spawn } from 'node:child_process';

/** Common identity of a record: where it came from. */
export interface TsharkRecordBase {
  /** tshark frame.number (1-based packet number in the capture; = our pcap reader's `index`). */
  frame: number;
  /** Source address/port of the export datagram. */
  exporter: string;
  exporterPort: number;
  version: 9 | 10;
  /** v9 Source ID / IPFIX Observation Domain ID. */
  domainId: number;
  /** Header sequence number of the message carrying the record. */
  sequence: number;
  /** Header export time (v9 unix_secs / IPFIX exportTime), Unix seconds. */
  exportTimeSec: number;
  /** v9 header sysUptime in ms; undefined for IPFIX. */
  sysUptimeMs: number | undefined;
  /** Set (FlowSet) id of the data set = id of the template that describes the record. */
  setId: number;
  /** 1-based position of the record in its set ("Flow N" in tshark). */
  recordInSet: number;
  /** Every leaf field tshark showed for the record, by tshark field name (e.g. "cflow.octets"). */
  raw: Record<string, string | string[]>;
}

/**
 * A flow data record. Numbers are as exported (no renormalisation by sampling rate).
 *
 * Times:
 * - startMs/endMs: absolute Unix ms only where the exporter sent absolute times
 *   (flowStart/EndSeconds|Milliseconds|Microseconds|Nanoseconds, IEs 150–157); tshark shows these
 *   as dates ("cflow.abstimestart"). Sub-millisecond parts are kept as a fraction.
 * - startUptimeMs/endUptimeMs: FIRST_SWITCHED/LAST_SWITCHED (IEs 22/21, flowStart/EndSysUpTime)
 *   exactly as exported, ms since the exporter's "boot"; tshark shows them relative ("cflow.timestart").
 * - derivedStartMs/derivedEndMs: absolute Unix ms computed from uptime times, the way collectors do:
 *   v9: unix_secs * 1000 − ((sysUptime − FIRST_SWITCHED) as signed 32-bit); note unix_secs is whole
 *   seconds, so this lands up to 1 s before the exporter's true clock.
 *   IPFIX: systemInitTimeMilliseconds (IE 160, from the latest options record of the same
 *   exporter + domain seen earlier in the capture) + flowStartSysUpTime; undefined without one.
 *   Equal to startMs/endMs when those are present.
 */
export interface TsharkFlowRecord extends TsharkRecordBase {
  ipVersion: number | undefined;
  src: string | undefined;
  dst: string | undefined;
  srcPort: number | undefined;
  dstPort: number | undefined;
  protocol: number | undefined;
  /** TCP flags byte (IE 6), e.g. 0x1b = FIN|SYN|PSH|ACK. */
  tcpFlags: number | undefined;
  tos: number | undefined;
  /** ICMP type << 8 | code where exported in its own field (IEs 32/139, or 176+177/178+179). */
  icmpTypeCode: number | undefined;
  packets: number | undefined;
  bytes: number | undefined;
  startMs: number | undefined;
  endMs: number | undefined;
  startUptimeMs: number | undefined;
  endUptimeMs: number | undefined;
  derivedStartMs: number | undefined;
  derivedEndMs: number | undefined;
  /** Sampler id carried in the record (IE 48 FLOW_SAMPLER_ID, or 302 selectorId). */
  samplerId: number | undefined;
  /** Sampling interval carried in the record itself (IE 34). */
  samplingInterval: number | undefined;
  /** IE 61: 0 ingress, 1 egress. */
  direction: number | undefined;
  /** IE 136: 1 idle timeout, 2 active timeout, 3 end of flow detected, 4 forced end, 5 lack of resources. */
  flowEndReason: number | undefined;
  inputInterface: number | undefined;
  outputInterface: number | undefined;
}

/** An options data record (sampler / metering process information). */
export interface TsharkOptionsRecord extends TsharkRecordBase {
  /** IE 48 (FLOW_SAMPLER_ID) or 302 (selectorId). */
  samplerId: number | undefined;
  /** IE 49 FLOW_SAMPLER_MODE (1 deterministic, 2 random). */
  samplerMode: number | undefined;
  /** IE 50 FLOW_SAMPLER_RANDOM_INTERVAL: 1 out of N. */
  samplerRandomInterval: number | undefined;
  /** IE 34 SAMPLING_INTERVAL: 1 out of N. */
  samplingInterval: number | undefined;
  /** IE 35 SAMPLING_ALGORITHM (1 deterministic, 2 random). */
  samplingAlgorithm: number | undefined;
  /** IE 305 samplingPacketInterval (packets selected per cycle). */
  samplingPacketInterval: number | undefined;
  /** IE 306 samplingPacketSpace (packets skipped per cycle): rate = (interval + space) / interval. */
  samplingPacketSpace: number | undefined;
  /** IE 304 selectorAlgorithm (1 systematic count-based, 3 random n-out-of-N, ...). */
  selectorAlgorithm: number | undefined;
  /** IE 160 systemInitTimeMilliseconds, Unix ms. */
  systemInitTimeMs: number | undefined;
  /** IE 143 meteringProcessId. */
  meteringProcessId: number | undefined;
}

/** One export message (datagram) as tshark read its header. */
export interface TsharkMessage {
  frame: number;
  exporter: string;
  exporterPort: number;
  version: number;
  domainId: number;
  sequence: number;
  exportTimeSec: number;
  sysUptimeMs: number | undefined;
  /** v9 header count (records of all kinds, templates included); undefined for IPFIX. */
  count: number | undefined;
  /** IPFIX header length; undefined for v9. */
  length: number | undefined;
  /** Data records (flow + options) tshark decoded in this message. */
  dataRecords: number;
  /** Template ids (data and options) defined in this message. */
  templates: number[];
  optionsTemplates: number[];
}

export interface TsharkDecodeResult {
  records: TsharkFlowRecord[];
  options: TsharkOptionsRecord[];
  messages: TsharkMessage[];
}

export interface TsharkDecodeOptions {
  /** Kill tshark after this long (default 120 s). */
  timeoutMs?: number;
}

/**
 * Decodes every NetFlow v9 / IPFIX message to `udpPort` in a capture with
 * `tshark -r FILE -d udp.port==PORT,cflow -T json --no-duplicate-keys` (TZ=UTC, so absolute times
 * parse unambiguously) and normalises the result. Records of a set whose template tshark has not
 * seen (template sent before the capture began) are not decoded by tshark and so are absent.
 */
export async function tsharkDecode(capturePath: string, udpPort: number, opts: TsharkDecodeOptions = {}): Promise<TsharkDecodeResult> {
  const json = await runTshark(
    ['-r', capturePath, '-d', `udp.port==${udpPort},cflow`, '-T', 'json', '--no-duplicate-keys', '-J', 'frame ip ipv6 udp cflow'],
    opts.timeoutMs ?? 120_000,
  );
  return normaliseTsharkJson(JSON.parse(json === '' ? '[]' : json) as unknown);
}

type Json = string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** Integer fields print as decimal, some (flags, ToS, ICMP) as 0x-hex: Number() reads both. */
function num(v: Json | undefined): number | undefined {
  const s = str(v);
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** "4189239.413000000" (seconds, relative) → ms, exact to the printed digits. */
export function relSecondsToMs(s: string): number {
  const neg = s.startsWith('-');
  const [i = '0', f = ''] = (neg ? s.slice(1) : s).split('.');
  const ms = Number(i) * 1000 + Number(f.slice(0, 3).padEnd(3, '0')) + (f.length > 3 ? Number(`0.${f.slice(3)}`) : 0);
  return neg ? -ms : ms;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** tshark's absolute time text under TZ=UTC ("Mar  1, 2024 12:00:06.480000000 UTC") → Unix ms. */
export function parseTsharkTime(s: string): number {
  const m = /^([A-Z][a-z]{2})\s+(\d{1,2}),\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s+UTC$/.exec(s.trim());
  const mon = m ? MONTHS.indexOf(m[1]!) : -1;
  if (!m || mon < 0) throw new Error(`unexpected tshark time format: ${JSON.stringify(s)}`);
  const f = m[7] ?? '';
  return (
    Date.UTC(Number(m[3]), mon, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6])) +
    Number(f.slice(0, 3).padEnd(3, '0')) +
    (f.length > 3 ? Number(`0.${f.slice(3)}`) : 0)
  );
}

function absTime(v: Json | undefined): number | undefined {
  const s = str(v);
  return s === undefined ? undefined : parseTsharkTime(s);
}

/** Leaf fields of a record, flattened (tshark nests some under "..._tree" keys). */
function flatten(o: Obj, out: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  for (const [k, v] of Object.entries(o)) {
    if (isObj(v)) flatten(v, out);
    else if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) {
      const leaves = v.filter((x): x is string => typeof x === 'string');
      if (leaves.length === v.length) out[k] = leaves;
      else for (const x of v) if (isObj(x)) flatten(x, out);
    }
  }
  return out;
}

/** The set objects of a cflow layer: every child carrying "cflow.flowset_id". */
function sets(cflow: Obj): Obj[] {
  const out: Obj[] = [];
  for (const v of Object.values(cflow)) {
    if (isObj(v) && 'cflow.flowset_id' in v) out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (isObj(x) && 'cflow.flowset_id' in x) out.push(x);
  }
  return out;
}

/** Template ids defined inside a template set. */
function templateIds(set: Obj): number[] {
  const ids: number[] = [];
  for (const v of Object.values(set)) {
    const list = Array.isArray(v) ? v : [v];
    for (const x of list)
      if (isObj(x)) {
        const id = num(x['cflow.template_id']);
        if (id !== undefined) ids.push(id);
      }
  }
  return ids;
}

/** Normalises `tshark -T json --no-duplicate-keys` output (exported for tests of this harness). */
export function normaliseTsharkJson(doc: unknown): TsharkDecodeResult {
  const records: TsharkFlowRecord[] = [];
  const options: TsharkOptionsRecord[] = [];
  const messages: TsharkMessage[] = [];
  // Options template ids per exporter + domain: a data set is an options record iff its id is one.
  const optionTemplates = new Map<string, Set<number>>();
  // Latest systemInitTimeMilliseconds per exporter + domain, for IPFIX uptime-based times.
  const initTimes = new Map<string, number>();
  if (!Array.isArray(doc)) throw new Error('tshark JSON: expected an array of packets');

  for (const pkt of doc as Json[]) {
    if (!isObj(pkt) || !isObj(pkt['_source']) || !isObj(pkt['_source']['layers'])) continue;
    const layers = pkt['_source']['layers'];
    const cflows = Array.isArray(layers['cflow']) ? layers['cflow'] : layers['cflow'] === undefined ? [] : [layers['cflow']];
    if (cflows.length === 0) continue;
    const frame = num(isObj(layers['frame']) ? layers['frame']['frame.number'] : undefined) ?? 0;
    const ip = isObj(layers['ip']) ? layers['ip'] : undefined;
    const ip6 = isObj(layers['ipv6']) ? layers['ipv6'] : undefined;
    const exporter = str(ip?.['ip.src']) ?? str(ip6?.['ipv6.src']) ?? '';
    const exporterPort = num(isObj(layers['udp']) ? layers['udp']['udp.srcport'] : undefined) ?? 0;

    for (const cf of cflows) {
      if (!isObj(cf)) continue;
      const version = num(cf['cflow.version']);
      if (version !== 9 && version !== 10) continue;
      const ts = isObj(cf['cflow.timestamp_tree']) ? cf['cflow.timestamp_tree'] : {};
      const domainId = (version === 9 ? num(cf['cflow.source_id']) : num(cf['cflow.od_id'])) ?? 0;
      const sysUptimeMs = version === 9 ? relSecondsOrUndef(str(cf['cflow.sysuptime'])) : undefined;
      const exportTimeSec = num(ts['cflow.unix_secs']) ?? num(ts['cflow.exporttime']) ?? 0;
      const sequence = num(cf['cflow.sequence']) ?? 0;
      const key = `${exporter}|${exporterPort}|${domainId}`;
      const msg: TsharkMessage = {
        frame,
        exporter,
        exporterPort,
        version,
        domainId,
        sequence,
        exportTimeSec,
        sysUptimeMs,
        count: version === 9 ? num(cf['cflow.count']) : undefined,
        length: version === 10 ? num(cf['cflow.len']) : undefined,
        dataRecords: 0,
        templates: [],
        optionsTemplates: [],
      };
      messages.push(msg);
      let opt = optionTemplates.get(key);
      if (!opt) optionTemplates.set(key, (opt = new Set()));

      for (const set of sets(cf)) {
        const setId = num(set['cflow.flowset_id']) ?? -1;
        if (setId === 0 || setId === 2) {
          msg.templates.push(...templateIds(set));
          continue;
        }
        if (setId === 1 || setId === 3) {
          for (const id of templateIds(set)) {
            opt.add(id);
            msg.optionsTemplates.push(id);
          }
          continue;
        }
        if (setId < 256) continue;
        const isOptions = opt.has(setId);
        for (const [name, body] of Object.entries(set)) {
          const m = /^Flow (\d+)$/.exec(name);
          if (!m || !isObj(body)) continue;
          msg.dataRecords++;
          const raw = flatten(body);
          const base: TsharkRecordBase = {
            frame,
            exporter,
            exporterPort,
            version,
            domainId,
            sequence,
            exportTimeSec,
            sysUptimeMs,
            setId,
            recordInSet: Number(m[1]),
            raw,
          };
          if (isOptions) {
            const o = optionsRecord(base, raw);
            if (o.systemInitTimeMs !== undefined) initTimes.set(key, o.systemInitTimeMs);
            options.push(o);
          } else {
            records.push(flowRecord(base, raw, initTimes.get(key)));
          }
        }
      }
    }
  }
  return { records, options, messages };
}

function relSecondsOrUndef(s: string | undefined): number | undefined {
  return s === undefined ? undefined : relSecondsToMs(s);
}

function flowRecord(base: TsharkRecordBase, r: Record<string, string | string[]>, initTimeMs: number | undefined): TsharkFlowRecord {
  let startUptimeMs = relSecondsOrUndef(str(r['cflow.timestart']));
  let endUptimeMs = relSecondsOrUndef(str(r['cflow.timeend']));
  let startMs = absTime(r['cflow.abstimestart']);
  let endMs = absTime(r['cflow.abstimeend']);
  // tshark 4.0 quirk: an uptime time of exactly 0 (a flow starting at the exporter's "boot",
  // e.g. softflowd -a with the capture's first packet) is shown as the absolute date 1970-01-01
  // while its partner stays relative. It is uptime 0, not an absolute time.
  if (startMs === 0 && startUptimeMs === undefined && endUptimeMs !== undefined) {
    startMs = undefined;
    startUptimeMs = 0;
  }
  if (endMs === 0 && endUptimeMs === undefined && startUptimeMs !== undefined) {
    endMs = undefined;
    endUptimeMs = 0;
  }
  const fromUptime = (t: number | undefined): number | undefined => {
    if (t === undefined) return undefined;
    if (base.version === 9) {
      if (base.sysUptimeMs === undefined) return undefined;
      // The age of the timestamp, modulo 2^32 as a signed value, survives sysUptime wrap-around.
      // v9 times are whole ms, so integer arithmetic is exact.
      const age = (Math.round(base.sysUptimeMs) - Math.round(t)) | 0;
      return base.exportTimeSec * 1000 - age;
    }
    return initTimeMs === undefined ? undefined : initTimeMs + t;
  };
  let icmpTypeCode = num(r['cflow.icmp_type_code_ipv4']);
  if (icmpTypeCode === undefined) {
    const t = num(r['cflow.icmp_ipv6_type']) ?? num(r['cflow.icmp_ipv4_type']);
    const c = num(r['cflow.icmp_ipv6_code']) ?? num(r['cflow.icmp_ipv4_code']);
    if (t !== undefined) icmpTypeCode = (t << 8) | (c ?? 0);
  }
  const src = str(r['cflow.srcaddr']) ?? str(r['cflow.srcaddrv6']);
  return {
    ...base,
    ipVersion: num(r['cflow.ip_version']) ?? (src === undefined ? undefined : src.includes(':') ? 6 : 4),
    src,
    dst: str(r['cflow.dstaddr']) ?? str(r['cflow.dstaddrv6']),
    srcPort: num(r['cflow.srcport']),
    dstPort: num(r['cflow.dstport']),
    protocol: num(r['cflow.protocol']),
    tcpFlags: num(r['cflow.tcpflags']),
    tos: num(r['cflow.tos']),
    icmpTypeCode,
    packets: num(r['cflow.packets']),
    bytes: num(r['cflow.octets']),
    startMs,
    endMs,
    startUptimeMs,
    endUptimeMs,
    derivedStartMs: startMs ?? fromUptime(startUptimeMs),
    derivedEndMs: endMs ?? fromUptime(endUptimeMs),
    samplerId: num(r['cflow.sampler_id']) ?? num(r['cflow.selector_id']),
    samplingInterval: num(r['cflow.sampling_interval']),
    direction: num(r['cflow.direction']),
    flowEndReason: num(r['cflow.flow_end_reason']),
    inputInterface: num(r['cflow.inputint']),
    outputInterface: num(r['cflow.outputint']),
  };
}

function optionsRecord(base: TsharkRecordBase, r: Record<string, string | string[]>): TsharkOptionsRecord {
  return {
    ...base,
    samplerId: num(r['cflow.sampler_id']) ?? num(r['cflow.selector_id']),
    samplerMode: num(r['cflow.sampler_mode']),
    samplerRandomInterval: num(r['cflow.sampler_random_interval']),
    samplingInterval: num(r['cflow.sampling_interval']),
    samplingAlgorithm: num(r['cflow.sampling_algorithm']),
    samplingPacketInterval: num(r['cflow.sampling_packet_interval']),
    samplingPacketSpace: num(r['cflow.sampling_packet_space']),
    selectorAlgorithm: num(r['cflow.selector_algorithm']),
    systemInitTimeMs: absTime(r['cflow.sys_init_time']),
    meteringProcessId: num(r['cflow.mp_id']),
  };
}

/** Runs tshark and returns its stdout; clear errors for a missing binary, failure or timeout. */
function runTshark(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' ? "tshark not found on PATH (Debian package 'tshark')" : `could not start tshark: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`tshark did not finish within ${timeoutMs} ms`));
      else if (code !== 0) reject(new Error(`tshark ${args.join(' ')} exited with ${code}: ${err.trim()}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}
