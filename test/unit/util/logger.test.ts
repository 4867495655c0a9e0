import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import t from 'tap';
import { logFormat } from '../../../agent/util/logger.js';

const repo = resolve(import.meta.dirname, '../../..');

t.test('pretty on a terminal, JSON lines otherwise, unless EDGE_AGENT_LOG_FORMAT says', async (t) => {
  t.equal(logFormat(undefined, true), 'pretty');
  t.equal(logFormat(undefined, false), 'json');
  t.equal(logFormat('json', true), 'json');
  t.equal(logFormat('pretty', false), 'pretty');
  t.equal(logFormat('yaml', false), 'json', 'an unknown value falls back to the guess');
});

function logOnce(format: string): string {
  const script = `import { createRootLogger } from './agent/util/logger.ts';
createRootLogger('info').child({ component: 'pipeline' }).info({ camera: 'cam1', mqtt: { password: 'hunter2' } }, 'pipeline started');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    env: { ...process.env, EDGE_AGENT_LOG_FORMAT: format, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  return r.stdout;
}

t.test('journald gets one JSON object per line; a person gets a readable line; no secret in either', async (t) => {
  const json = logOnce('json').trim().split('\n');
  t.equal(json.length, 1);
  const record = JSON.parse(json[0] as string) as Record<string, unknown>;
  t.match(record, { level: 'info', component: 'pipeline', camera: 'cam1', msg: 'pipeline started', mqtt: { password: '[redacted]' } });

  const pretty = logOnce('pretty');
  t.throws(() => JSON.parse(pretty), 'not JSON');
  t.match(pretty, /INFO.*pipeline started/);
  t.match(pretty, /camera: "cam1"/);
  t.notMatch(pretty, /hunter2/);
});
