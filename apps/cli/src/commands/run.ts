import type { Command } from 'commander';
import { assemblePipeline } from '@haystack/pipeline';
import { listenOptions, listenOverrides, type ListenOptions } from '../args.js';
import { action, exitIfLingering, runtime, untilStopped } from '../runtime.js';

/**
 * `haystack run`: ingest, the flow transport and the detector in one process, listening for
 * live exports. Embedded defaults (in-process bus, hitlist day directories, chdb); the same
 * code runs on Kafka, Redis and a ClickHouse server when the configuration names them.
 */
export function registerRunCommands(program: Command): void {
  listenOptions(program.command('run'))
    .description(
      'run ingest and detection in one process, listening for live NetFlow, IPFIX and sFlow (embedded defaults, or Kafka/Redis/ClickHouse by configuration)',
    )
    .addHelpText(
      'after',
      `
Hitlists come from Redis (redis.url) or from the day directories that \`haystack hitlist build\`
writes under <stateDir>/hitlist; build today's before flows arrive. Detections go to ClickHouse
(clickhouse.url, or embedded chdb under <stateDir>/chdb); \`haystack report --day D\` reads them.
With pdns.unixSocket or pdns.tcp set, the dnstap collector runs here too (see \`haystack pdns --help\`).
The operator console serves at console.listen (default http://127.0.0.1:8470; null turns it off): today's
report live, trends, time to detection, the hitlist, data quality, and its JSON API (/api/openapi.json).
Sign in with a token from <stateDir>/console/tokens (created on first start). While it runs,
\`haystack report\` goes through the console's API.
Stops cleanly on SIGINT/SIGTERM: staged flows are published, stored and committed first.`,
    )
    .action(
      action(async (opts: ListenOptions, cmd: Command) => {
        const { config, log } = runtime(cmd, listenOverrides(opts));
        const p = assemblePipeline({ config, log, ingest: 'listen', detect: true, pdns: !!(config.pdns.unixSocket || config.pdns.tcp), console: true });
        await p.start();
        log.info(
          {
            mode: p.transport?.mode,
            clickhouse: config.clickhouse.url ?? 'embedded',
            hitlists: config.redis.url ? 'redis' : 'day directories',
            console: p.console?.url ?? 'off (console.listen)',
          },
          'haystack running',
        );
        let failure: unknown;
        await untilStopped(log, [p.failed()]).catch((e: unknown) => (failure = e));
        log.info('stopping: publishing staged flows, storing detections');
        await p.stop();
        if (failure !== undefined) throw failure;
        exitIfLingering(log);
      }),
    );
}
