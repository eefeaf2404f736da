import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/**
 * Logs: JSON lines for collectors and files, a readable line on a terminal (log.format). Run in
 * a child process: the logger writes to file descriptor 2 synchronously.
 */
const log = (format: string) =>
  spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { createLogger } from '@haystack/common'; createLogger(${format}).info({ flows: 3 }, 'replay finished');`],
    { cwd: new URL('.', import.meta.url).pathname, encoding: 'utf8' },
  ).stderr;

test('log format: JSON lines by default off a terminal, a readable line when asked', () => {
  const json = JSON.parse(log('{}').trim()) as { level: number; msg: string; flows: number };
  assert.deepEqual([json.level, json.msg, json.flows], [30, 'replay finished', 3]);
  assert.match(log("{ format: 'pretty' }"), /^\[\d{2}:\d{2}:\d{2}\] INFO: replay finished \{"flows":3\}\n$/);
  assert.equal(JSON.parse(log("{ format: 'json' }")).msg, 'replay finished');
});
