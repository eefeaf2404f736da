import type { Command } from 'commander';
import { createPdnsService, pdnsComponent, PdnsInputError } from '@haystack/pdns-service';
import { inputFile } from '../args.js';
import { action, runtime, untilStopped, UserError } from '../runtime.js';

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * `haystack pdns`: passive DNS from the operator's own resolvers. Resolvers send dnstap
 * (Unbound, BIND, Knot Resolver, PowerDNS Recursor, dnsdist) over a Unix socket or TCP; answers
 * become per-day tuples in ClickHouse that `haystack hitlist build --pdns-store` reads.
 */
export function registerPdnsCommands(program: Command): void {
  const pdns = program
    .command('pdns')
    .description('passive DNS from your own resolvers (dnstap): collect it, import dnstap files; `hitlist build --pdns-store` reads it')
    .addHelpText(
      'after',
      `
Only answers are kept: name, type (A, AAAA, CNAME), data, first and last seen, count, per day.
Client addresses are never read into anything kept or stored.
Unbound example (unbound.conf):
  dnstap:
    dnstap-enable: yes
    dnstap-socket-path: "/run/haystack/dnstap.sock"
    dnstap-log-client-response-messages: yes   # answers to your subscribers
    dnstap-log-resolver-response-messages: yes # what the resolver learned upstream`,
    );

  pdns
    .command('serve', { isDefault: true })
    .description('accept dnstap from resolvers (Unix socket and/or TCP) until stopped; flush tuples to ClickHouse')
    .option('--unix <path>', 'Unix socket to listen on (default from config pdns.unixSocket)')
    .option('--tcp <host:port>', 'TCP address to listen on (default from config pdns.tcp)')
    .action(
      action(async (opts: { unix?: string; tcp?: string }, cmd: Command) => {
        const { config, log } = runtime(cmd, { pdns: { ...(opts.unix && { unixSocket: opts.unix }), ...(opts.tcp && { tcp: opts.tcp }) } });
        if (!config.pdns.unixSocket && !config.pdns.tcp)
          throw new UserError('nothing to listen on: give --unix PATH and/or --tcp HOST:PORT (or set pdns.unixSocket / pdns.tcp)', 2);
        const part = pdnsComponent({ config, log });
        await part.start();
        await untilStopped(log);
        log.info('stopping: flushing passive DNS tuples');
        await part.stop();
        const c = part.service!.collector.counters;
        log.info({ ...c }, 'dnstap collector stopped');
      }),
    );

  pdns
    .command('import')
    .description('read dnstap files (as fstrm_capture writes them) into the passive DNS store; the same file twice is stored once')
    .argument('<files...>', 'dnstap files (Frame Streams, content type protobuf:dnstap.Dnstap)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (files: string[], opts: { json?: boolean }, cmd: Command) => {
        const { config, log } = runtime(cmd);
        for (const f of files) inputFile(f, 'dnstap file');
        const svc = await createPdnsService({ config, log, listen: false });
        const results = [];
        try {
          for (const f of files) results.push(await svc.collector.importFile(f));
        } catch (e) {
          if (e instanceof PdnsInputError) throw new UserError(e.message, 1);
          throw e;
        } finally {
          await svc.stop();
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(results)}\n`);
        else
          for (const r of results)
            process.stdout.write(
              `${r.file}: ${fmt(r.frames)} frames, ${fmt(r.responses)} responses, ${fmt(r.answers)} answers → ${fmt(r.tuples)} tuples${r.malformed ? `, ${fmt(r.malformed)} malformed` : ''}\n`,
            );
      }),
    );

  pdns
    .command('status')
    .description('days of passive DNS in the store and their tuples')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const { config, log } = runtime(cmd);
        const svc = await createPdnsService({ config, log, listen: false });
        try {
          const days = await svc.store.days();
          if (opts.json) process.stdout.write(`${JSON.stringify(days)}\n`);
          else if (days.length === 0) process.stdout.write('no passive DNS stored yet (haystack pdns serve / import)\n');
          else for (const d of days) process.stdout.write(`${d.day}  ${fmt(d.tuples)} tuples\n`);
        } finally {
          await svc.stop();
        }
      }),
    );
}
