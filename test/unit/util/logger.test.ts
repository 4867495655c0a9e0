import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import t from 'tap';
import { createRootLogger, logFormat, silentLogger } from '../../../agent/util/logger.js';

const repo = resolve(import.meta.dirname, '../../..');

t.test('pretty on a terminal, JSON lines otherwise, unless EDGE_AGENT_LOG_FORMAT says', async (t) => {
  t.equal(logFormat(undefined, true), 'pretty');
  t.equal(logFormat(undefined, false), 'json');
  t.equal(logFormat('json', true), 'json');
  t.equal(logFormat('pretty', false), 'pretty');
  t.equal(logFormat('yaml', false), 'json', 'an unknown value falls back to the guess');
});

t.test('the level is EDGE_AGENT_LOG_LEVEL, info when unset, unless the caller gives one', async (t) => {
  const saved = process.env.EDGE_AGENT_LOG_LEVEL;
  t.teardown(() => {
    if (saved === undefined) delete process.env.EDGE_AGENT_LOG_LEVEL;
    else process.env.EDGE_AGENT_LOG_LEVEL = saved;
  });
  // Made, not written to: this process's stdout is tap's.
  delete process.env.EDGE_AGENT_LOG_LEVEL;
  t.equal(createRootLogger().level, 'info');
  process.env.EDGE_AGENT_LOG_LEVEL = 'warn';
  t.equal(createRootLogger().level, 'warn');
  t.equal(createRootLogger('debug', 'pretty').level, 'debug');
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
  t.match(record, {
    level: 'info',
    component: 'pipeline',
    camera: 'cam1',
    msg: 'pipeline started',
    mqtt: { password: '[redacted]' },
  });

  const pretty = logOnce('pretty');
  t.throws(() => JSON.parse(pretty), 'not JSON');
  t.match(pretty, /INFO.*pipeline started/);
  t.match(pretty, /camera: "cam1"/);
  t.notMatch(pretty, /hunter2/);
});

// Issue 15: IP-camera passwords and query-string tokens reached the journal.
t.test('URLs in any record lose their password and secret query values: message, fields, arrays, errors', async (t) => {
  const script = `import { createRootLogger } from './agent/util/logger.ts';
const log = createRootLogger('debug').child({ component: 'pipeline' });
const url = 'rtsp://admin:camsecret@10.0.0.9/live?channel=1&token=tok123';
log.info({ source: url }, 'pipeline started');
log.debug({ args: ['-i', url] }, 'ffmpeg command');
log.error({ err: new Error(url + ': Connection refused') }, 'failed');
log.warn('camera lost at ' + url);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    env: { ...process.env, EDGE_AGENT_LOG_FORMAT: 'json' },
    encoding: 'utf8',
  });
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 4, r.stderr);
  t.notMatch(r.stdout, /camsecret|tok123/, 'no secret in the journal');
  t.match(r.stdout, 'rtsp://admin:[redacted]@10.0.0.9/live?channel=1&token=[redacted]', 'the rest of the URL is kept');
  t.match(JSON.parse(lines[2]!), { err: { type: 'Error', message: /Connection refused/ } }, 'errors stay errors');
});

t.test('an error logged as { err } keeps its class, code and cause chain, redacted', async (t) => {
  const script = `import { createRootLogger } from './agent/util/logger.ts';
import { AgentError } from './agent/contract/errors.ts';
const cause = new Error('connect rtsp://admin:camsecret@10.0.0.9/live refused');
createRootLogger('info').error({ err: new AgentError('source_unavailable', 'camera cam1 lost', { cause }) }, 'failed');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    env: { ...process.env, EDGE_AGENT_LOG_FORMAT: 'json' },
    encoding: 'utf8',
  });
  t.notMatch(r.stdout, /camsecret/, r.stderr);
  const record = JSON.parse(r.stdout) as { err: { type: string; code: string; message: string; stack: string } };
  t.match(record.err, {
    type: 'AgentError',
    code: 'source_unavailable',
    message: 'camera cam1 lost: connect rtsp://admin:[redacted]@10.0.0.9/live refused',
  });
  t.match(record.err.stack, /caused by: Error: connect rtsp:\/\/admin:\[redacted\]@/);
});

t.test('silentLogger writes nothing at any level, its children included', async (t) => {
  const log = silentLogger();
  t.equal(log.level, 'silent');
  const child = log.child({ component: 'pipeline' });
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const) {
    t.notOk(child.isLevelEnabled(level), level);
  }
});
