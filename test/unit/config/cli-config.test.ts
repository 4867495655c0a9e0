import path from 'node:path';
import t from 'tap';
import { configCommand, type ConfigIo } from '../../../agent/cli/config.js';

function io(env: NodeJS.ProcessEnv = {}) {
  const out = { stdout: '', stderr: '' };
  const sink: ConfigIo = { stdout: (s) => void (out.stdout += s), stderr: (s) => void (out.stderr += s), env };
  return { out, sink };
}

const opts = (positionals: string[], extra: { config?: string; set?: string[] } = {}) => ({
  json: false,
  set: [],
  ...extra,
  positionals,
});

t.test('config check', async (t) => {
  const dir = t.testdir({ 'good.json': '{"device": {"id": "gate"}}', 'bad.json': '{"hls": {"listSize": 0}, "x": 1}' });
  const good = path.join(dir, 'good.json');
  let r = io();
  t.equal(await configCommand(opts(['check', good]), r.sink), 0);
  t.equal(r.out.stdout, `config ok: ${good}\n`);
  r = io();
  t.equal(await configCommand(opts(['check', path.join(dir, 'bad.json')]), r.sink), 2);
  t.equal(r.out.stderr.split('\n').filter(Boolean).length, 2, 'one line per problem');
  r = io();
  t.equal(await configCommand(opts(['check'], { config: good }), r.sink), 0, '--config works too');
  r = io({ EDGE_AGENT_HLS_LIST_SIZE: '0' });
  t.equal(await configCommand(opts(['check', good]), r.sink), 0, 'the environment does not leak into a file check');
  r = io();
  t.equal(await configCommand(opts(['check']), r.sink), 2, 'no file');
  t.match(r.out.stderr, /^usage: edge-agent config check FILE/);
});

t.test('config print', async (t) => {
  const dir = t.testdir({
    'c.json': JSON.stringify({ mqtt: { url: 'mqtt://u:topsecret@b', passwordFile: '/etc/pw', allowInsecure: true } }),
  });
  const file = path.join(dir, 'c.json');
  let r = io();
  t.equal(await configCommand(opts(['print'], { config: file, set: ['hls.listSize=9'] }), r.sink), 0);
  const printed = JSON.parse(r.out.stdout);
  t.equal(printed.mqtt.url, 'mqtt://u:[redacted]@b');
  t.equal(printed.mqtt.passwordFile, '[redacted]');
  t.equal(printed.hls.listSize, 9);
  t.notMatch(r.out.stdout, /topsecret/);
  r = io({ EDGE_AGENT_CONFIG: file, EDGE_AGENT_HLS_LIST_SIZE: '7' });
  t.equal(await configCommand(opts(['print']), r.sink), 0, '$EDGE_AGENT_CONFIG and env overrides');
  t.equal(JSON.parse(r.out.stdout).hls.listSize, 7);
  r = io();
  t.equal(await configCommand(opts(['print'], { config: file, set: ['hls.listSize=0'] }), r.sink), 2);
  t.equal(r.out.stderr, 'hls.listSize must be an integer between 2 and 100, got 0\n');
  r = io();
  t.equal(await configCommand(opts(['print', 'extra']), r.sink), 2);
});

t.test('unknown subcommand', async (t) => {
  const r = io();
  t.equal(await configCommand(opts(['frobnicate']), r.sink), 2);
  t.equal(await configCommand(opts([]), r.sink), 2);
  t.match(r.out.stderr, /usage/);
});

t.test('errors other than config problems are not swallowed', async (t) => {
  const r = io();
  const broken: ConfigIo = {
    ...r.sink,
    stdout: () => {
      throw new Error('epipe');
    },
  };
  const dir = t.testdir({ 'c.json': '{}' });
  await t.rejects(configCommand(opts(['check', path.join(dir, 'c.json')]), broken), /epipe/);
});
