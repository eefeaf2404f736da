/**
 * The `haystack` launcher (bin/haystack.js) re-executes flow commands with glibc's malloc tuned
 * (see the file): arguments, the -c value, output and the exit code pass through; other commands
 * run in the launcher's own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IE, PacketBuilder } from '@haystack/decoders';
import { PcapWriter } from '@haystack/pcap';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'haystack.js');

test('the launcher passes a flow command, its -c file and its exit code through the tuned re-exec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hs-launcher-'));
  try {
    const cap = join(dir, 'exports.pcap');
    const w = await PcapWriter.create(cap);
    const pkt = new PacketBuilder(10, { domain: 1, exportSecs: 1_700_000_000, sequence: 0 })
      .template(300, [
        { id: IE.sourceIPv4Address, length: 4 },
        { id: IE.destinationIPv4Address, length: 4 },
        { id: IE.octetDeltaCount, length: 4 },
      ])
      .data(300, [['100.64.0.1', '52.1.1.1', 500]])
      .build();
    await w.writeUdp({ tsMs: 1_700_000_000_000, src: '192.0.2.1', srcPort: 9000, dst: '192.0.2.9', dstPort: 4739, payload: pkt });
    await w.close();
    const conf = join(dir, 'h.yaml');
    writeFileSync(conf, `stateDir: ${join(dir, 'var')}\nmetrics:\n  listen: null\nlog:\n  level: warn\n`);
    const env = { ...process.env };
    delete env.MALLOC_MMAP_THRESHOLD_;
    const r = spawnSync(process.execPath, [bin, '-c', conf, 'replay', cap, '--json', '--no-progress'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { datagrams: number; published: { records: number } };
    assert.deepEqual([s.datagrams, s.published.records], [1, 1]);
    // A mistake still exits 2 through the re-exec, with its one line.
    const bad = spawnSync(process.execPath, [bin, '-c', conf, 'replay', join(dir, 'missing.pcap')], { encoding: 'utf8', env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /missing\.pcap/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The first `node` on PATH that is not one npm put there: the machine's own. */
function machineNode(): string {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d || d.includes('node_modules')) continue;
    const p = join(d, 'node');
    if (existsSync(p)) return p;
  }
  return process.execPath;
}

test('the launcher runs Haystack on Node 24 whatever Node starts it (the one npm ci put beside the project)', () => {
  const node = machineNode();
  // The hook prints the runtime of every process that loads it: the launcher's and, when it
  // re-executes, the command's (execArgv is passed on).
  const hook = 'data:text/javascript,process.stderr.write("runtime "+process.version+"\\n")';
  const r = spawnSync(node, ['--import', hook, bin, 'sizing', '--lines', '1000', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const runtimes = [...r.stderr.matchAll(/runtime v(\d+)\./g)].map((m) => Number(m[1]));
  assert.ok(runtimes.length >= 1, r.stderr);
  // The process that did the work (the last to start) is Node 24 or later.
  assert.ok(runtimes[runtimes.length - 1]! >= 24, `${node}: ${r.stderr}`);
  assert.equal((JSON.parse(r.stdout) as { input: { lines: number } }).input.lines, 1000);
});
