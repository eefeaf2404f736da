// A real resolver emitting dnstap: Debian's unbound, answering from local data on 127.0.0.1,
// its dnstap sent to a Unix socket or a TCP address (no TLS). Queried with dig (dnsutils).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSocket } from 'node:dgram';

export interface UnboundOptions {
  /** dnstap destination: a Unix socket path, or a TCP "host@port" (unbound's syntax). */
  dnstap: { unixSocket: string } | { tcp: string };
  /** local-data lines, e.g. "cam.acme.com. 300 IN A 198.51.100.1". */
  localData: string[];
  /** local-zone names (static) the data lives in. */
  zones: string[];
}

export interface Unbound {
  port: number;
  /** dig @127.0.0.1 -p port name type +short. */
  query(name: string, type: string): Promise<string>;
  /** unbound sends dnstap on a 1 s timer and drops its queue at shutdown: wait before stopping it. */
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export async function startUnbound(o: UnboundOptions): Promise<Unbound> {
  // The port is free for UDP when chosen; unbound also binds TCP on it, and another test's
  // server can take either in between: start again on a new port (seen once in CI).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startUnboundOnce(o);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test((e as Error).message)) throw e;
    }
  }
}

async function startUnboundOnce(o: UnboundOptions): Promise<Unbound> {
  const dir = await mkdtemp(join(tmpdir(), 'haystack-unbound-'));
  const port = await freeUdpPort();
  const dnstap = 'unixSocket' in o.dnstap ? `    dnstap-socket-path: "${o.dnstap.unixSocket}"\n` : `    dnstap-ip: "${o.dnstap.tcp}"\n    dnstap-tls: no\n`;
  const conf = `server:
    interface: 127.0.0.1
    port: ${port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 1
    username: ""
    chroot: ""
    directory: "${dir}"
    pidfile: "${join(dir, 'unbound.pid')}"
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
${o.zones.map((z) => `    local-zone: "${z}" static\n`).join('')}${o.localData.map((d) => `    local-data: "${d}"\n`).join('')}
remote-control:
    control-enable: no
dnstap:
    dnstap-enable: yes
    dnstap-bidirectional: yes
${dnstap}    dnstap-send-identity: yes
    dnstap-identity: "haystack-test"
    dnstap-log-client-response-messages: yes
`;
  const confPath = join(dir, 'unbound.conf');
  await writeFile(confPath, conf);
  let out = '';
  const child: ChildProcess = spawn('unbound', ['-d', '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('unbound not found (Debian: apt-get install unbound)') : e));
    child.on('exit', (code) => resolve(code));
  });
  const dig = (name: string, type: string) =>
    new Promise<string>((resolve, reject) =>
      execFile('dig', [`@127.0.0.1`, '-p', String(port), name, type, '+short', '+tries=1', '+time=2'], (err, stdout) =>
        err ? reject(new Error(`dig ${name} ${type}: ${err.message}\n${out}`)) : resolve(stdout.trim()),
      ),
    );
  // Ready when it answers.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`unbound exited ${child.exitCode}: ${out}`);
    }
    try {
      await dig('localhost', 'A');
      break;
    } catch (e) {
      if (i > 50) {
        child.kill('SIGKILL');
        throw e;
      }
      await sleep(100);
    }
  }
  return {
    port,
    query: dig,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** dnstap-ldns -r FILE -y: the CLIENT_RESPONSE messages' answer records ("name. TTL IN TYPE data"). */
export async function dnstapLdnsAnswers(file: string): Promise<{ responses: number; answers: string[] }> {
  const text = await new Promise<string>((resolve, reject) =>
    execFile('dnstap-ldns', ['-r', file, '-y'], { maxBuffer: 1 << 28 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  let responses = 0;
  const answers: string[] = [];
  // YAML documents, one per message; the response message is a dig-style dump.
  for (const doc of text.split(/^---$/m)) {
    if (!/type: CLIENT_RESPONSE/.test(doc)) continue;
    responses++;
    const m = /;; ANSWER SECTION:\n([\s\S]*?)\n\s*\n/.exec(doc);
    if (!m) continue;
    for (const line of m[1]!.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 5 && (f[3] === 'A' || f[3] === 'AAAA' || f[3] === 'CNAME'))
        answers.push(`${f[0]!.toLowerCase().replace(/\.$/, '')} ${f[3]} ${f[4]!.toLowerCase().replace(/\.$/, '')}`);
    }
  }
  return { responses, answers };
}
