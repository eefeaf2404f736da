import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseTsharkJson, parseTsharkTime, relSecondsToMs } from './tshark.js';

/** A minimal packet as `tshark -T json --no-duplicate-keys` prints it. */
function packet(frame: number, cflow: Record<string, unknown>): unknown {
  return {
    _source: {
      layers: {
        frame: { 'frame.number': String(frame) },
        ip: { 'ip.src': '192.0.2.1' },
        udp: { 'udp.srcport': '5555' },
        cflow,
      },
    },
  };
}

describe('tshark output normalisation', () => {
  it('parses tshark time texts exactly', () => {
    assert.equal(parseTsharkTime('Mar  1, 2024 12:00:06.480000000 UTC'), Date.UTC(2024, 2, 1, 12, 0, 6, 480));
    assert.equal(parseTsharkTime('Dec 31, 1999 23:59:59.000001500 UTC'), Date.UTC(1999, 11, 31, 23, 59, 59) + 0.0015);
    assert.equal(parseTsharkTime('Jan  1, 1970 00:00:00.000000000 UTC'), 0);
    assert.throws(() => parseTsharkTime('Mar  1, 2024 13:00:06.480000000 CET'), /unexpected tshark time format/);
    assert.equal(relSecondsToMs('4189239.413000000'), 4189239413);
    assert.equal(relSecondsToMs('0.000250000'), 0.25);
    assert.equal(relSecondsToMs('-1.5'), -1500);
  });

  it('v9: options vs flow records by options template id; uptime times derived across a wrap', () => {
    const doc = [
      packet(1, {
        'cflow.version': '9',
        'cflow.sysuptime': '10.000000000',
        'cflow.timestamp_tree': { 'cflow.unix_secs': '1700000000' },
        'cflow.sequence': '7',
        'cflow.source_id': '3',
        'cflow.count': '3',
        'FlowSet 1 [id=1] (Options Template): 256': {
          'cflow.flowset_id': '1',
          'Options Template (Id = 256)': { 'cflow.template_id': '256' },
        },
        'FlowSet 2 [id=256] (1 flows)': {
          'cflow.flowset_id': '256',
          'Flow 1': { 'cflow.scope_interface': '0', 'cflow.sampling_interval': '100', 'cflow.sampling_algorithm': '1' },
        },
        'FlowSet 3 [id=1024] (1 flows)': {
          'cflow.flowset_id': '1024',
          'Flow 1': {
            'cflow.srcaddr': '10.0.0.1',
            'cflow.dstaddr': '10.0.0.2',
            // Started 20 s before export while sysUptime (10 s) has since wrapped past 2^32 ms.
            'cflow.timedelta_tree': { 'cflow.timestart': '4294957.296000000', 'cflow.timeend': '9.000000000' },
            'cflow.octets': '1500',
            'cflow.packets': '3',
            'cflow.srcport': '443',
            'cflow.dstport': '50000',
            'cflow.protocol': '6',
            'cflow.tcpflags': '0x1b',
            'cflow.tcpflags_tree': { 'cflow.tcpflags.syn': '1' },
          },
        },
      }),
    ];
    const r = normaliseTsharkJson(doc);
    assert.equal(r.options.length, 1);
    assert.equal(r.options[0]!.samplingInterval, 100);
    assert.equal(r.records.length, 1);
    const f = r.records[0]!;
    assert.equal(f.exporter, '192.0.2.1');
    assert.equal(f.exporterPort, 5555);
    assert.equal(f.domainId, 3);
    assert.equal(f.sequence, 7);
    assert.equal(f.setId, 1024);
    assert.equal(f.tcpFlags, 0x1b);
    assert.equal(f.packets, 3);
    assert.equal(f.bytes, 1500);
    assert.equal(f.startMs, undefined);
    assert.equal(f.startUptimeMs, 4294957296);
    assert.equal(f.derivedStartMs, 1_700_000_000_000 - 20_000);
    assert.equal(f.derivedEndMs, 1_700_000_000_000 - 1_000);
    assert.deepEqual(r.messages[0]!.optionsTemplates, [256]);
    assert.equal(r.messages[0]!.dataRecords, 2);
  });

  it('IPFIX: systemInitTimeMilliseconds anchors uptime times; uptime 0 shown as 1970 is uptime 0', () => {
    const doc = [
      packet(1, {
        'cflow.version': '10',
        'cflow.timestamp_tree': { 'cflow.exporttime': '1709294787' },
        'cflow.sequence': '0',
        'cflow.od_id': '9',
        'Set 1 [id=3] (Options Template): 256': { 'cflow.flowset_id': '3', 'Options Template (Id = 256)': { 'cflow.template_id': '256' } },
        'Set 2 [id=256] (1 flows)': {
          'cflow.flowset_id': '256',
          'Flow 1': {
            'cflow.mp_id': '42',
            'cflow.sys_init_time': 'Mar  1, 2024 12:00:00.058000000 UTC',
            'cflow.sampling_packet_interval': '1',
            'cflow.sampling_packet_space': '9',
            'cflow.selector_algorithm': '1',
          },
        },
        'Set 3 [id=2049] (2 flows)': {
          'cflow.flowset_id': '2049',
          'Flow 1': {
            'cflow.srcaddrv6': '2001:db8::1',
            'cflow.dstaddrv6': '2001:db8::2',
            'cflow.timedelta_tree': { 'cflow.abstimestart': 'Jan  1, 1970 00:00:00.000000000 UTC', 'cflow.timeend': '15.385000000' },
            'cflow.icmp_ipv6_type': '128',
            'cflow.icmp_ipv6_code': '0',
            'cflow.protocol': '58',
            'cflow.packets': '2',
            'cflow.octets': '200',
          },
          'Flow 2': {
            'cflow.srcaddrv6': '2001:db8::2',
            'cflow.dstaddrv6': '2001:db8::1',
            'cflow.timedelta_tree': { 'cflow.timestart': '1.000000000', 'cflow.timeend': '2.000000000' },
            'cflow.protocol': '58',
          },
        },
      }),
    ];
    const r = normaliseTsharkJson(doc);
    const init = Date.UTC(2024, 2, 1, 12, 0, 0, 58);
    assert.equal(r.options[0]!.systemInitTimeMs, init);
    assert.equal(r.options[0]!.samplingPacketSpace, 9);
    assert.equal(r.options[0]!.meteringProcessId, 42);
    const [a, b] = r.records;
    assert.equal(a!.domainId, 9);
    assert.equal(a!.ipVersion, 6);
    assert.equal(a!.icmpTypeCode, 128 << 8);
    assert.equal(a!.startMs, undefined);
    assert.equal(a!.startUptimeMs, 0);
    assert.equal(a!.derivedStartMs, init);
    assert.equal(a!.derivedEndMs, init + 15385);
    assert.equal(b!.recordInSet, 2);
    assert.equal(b!.derivedStartMs, init + 1000);
    assert.equal(b!.packets, undefined);
  });

  it('ignores packets without NetFlow and refuses non-array input', () => {
    const r = normaliseTsharkJson([{ _source: { layers: { frame: { 'frame.number': '1' } } } }]);
    assert.deepEqual(r, { records: [], options: [], messages: [] });
    assert.throws(() => normaliseTsharkJson({}), /expected an array/);
  });
});
