import type { Command } from 'commander';
import { ClickHouseBusyError } from '@haystack/clickhouse';
import { consoleComponent, runningConsole } from '@haystack/console';
import { openStore } from '@haystack/store';
import { hitlistBuilds } from '@haystack/hitlist';
import { action, runtime, untilStopped, UserError } from '../runtime.js';

/**
 * `haystack console`: the operator console as its own service (the distributed deployment,
 * against the ClickHouse server). `haystack run` serves the same console itself.
 */
export function registerConsoleCommands(program: Command): void {
  program
    .command('console')
    .description(
      'serve the operator console and its JSON API on its own (against clickhouse.url, or the embedded store when nothing else holds it; `haystack run` serves it too)',
    )
    .option('--listen <host:port>', 'address to serve on (default console.listen, 127.0.0.1:8470)')
    .addHelpText(
      'after',
      `
Pages: / (today's report, refreshed while flows arrive), /day/<D>, /trends, /time-to-detection,
/hitlist, /quality, /lookup (off unless console.lookup.enabled; signed in, audited).
API: /api/v1/... with Authorization: Bearer <token>; the OpenAPI document at /api/openapi.json.
Tokens: console.tokensFile (default <stateDir>/console/tokens, "name:token" lines, 0600; created
with one token on first start). Binds 127.0.0.1 unless told otherwise: put a TLS proxy in front
before exposing it. Pages are open on 127.0.0.1 and ask for sign-in on any other address, or
everywhere with console.pagesNeedSignIn: true. With kafka.brokers set, /quality shows the
detector group's lag. Example, on the data of \`npm start\`:
  HAYSTACK_STATE_DIR=var/demo/state npx haystack console    # then open http://127.0.0.1:8470/day/2026-11-20`,
    )
    .action(
      action(async (opts: { listen?: string }, cmd: Command) => {
        const { config, log } = runtime(cmd, opts.listen ? { console: { listen: opts.listen } } : {});
        if (!config.console.listen) throw new UserError('console.listen is null: give --listen HOST:PORT', 2);
        let store;
        try {
          store = await openStore(config);
        } catch (e) {
          if (!(e instanceof ClickHouseBusyError)) throw e;
          // `haystack run` holds the embedded store: it serves the console itself.
          const running = runningConsole(config);
          throw new UserError(
            running
              ? `the embedded store ${e.dataDir} is held by a running process (pid ${running.pid}) that serves the console itself: open ${running.url}`
              : `the embedded store ${e.dataDir} is held by another process${e.pid !== null ? ` (pid ${e.pid})` : ''}, which serves no console: ` +
                  'give that `haystack run` console.listen (the default), or stop it, or point both at a ClickHouse server (clickhouse.url)',
            1,
          );
        }
        const opened = store;
        const part = consoleComponent({ config, log, store: () => opened, hitlistBuilds: hitlistBuilds(config) });
        try {
          await part.start();
          process.stdout.write(`console: ${part.server?.url}\n`);
          await untilStopped(log, []);
        } finally {
          await part.stop();
          await store.close();
        }
      }),
    );
}
