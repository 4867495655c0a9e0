import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { envOverrides, loadConfig, parseSetArgs, resolveConfigPath } from '../../../agent/config/load.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

t.test('resolveConfigPath: --config, then $EDGE_AGENT_CONFIG, then the packaged path, else defaults', async (t) => {
  const dir = t.testdir({ 'config.json': '{}' });
  const packaged = path.join(dir, 'config.json');
  const missing = path.join(dir, 'absent.json');
  t.equal(resolveConfigPath('/a.json', { EDGE_AGENT_CONFIG: '/b.json' }, packaged), '/a.json', 'explicit wins');
  t.equal(resolveConfigPath(undefined, { EDGE_AGENT_CONFIG: '/b.json' }, packaged), '/b.json', 'env next');
  t.equal(resolveConfigPath(undefined, {}, packaged), packaged, 'packaged path when present');
  t.equal(resolveConfigPath(undefined, {}, missing), null, 'built-in defaults otherwise');
  t.equal(resolveConfigPath('', { EDGE_AGENT_CONFIG: '' }, missing), null, 'empty values count as unset');
});

t.test('no file means built-in defaults', async (t) => {
  const { config, file } = loadConfig({ file: null, env: {} });
  t.equal(file, null);
  t.equal(config.mqtt.url, 'embedded');
  t.equal(config.hls.segmentSeconds, 1);
  t.same(config.cameras, [{ id: 'cam1', source: 'auto', width: 1280, height: 720, fps: 30 }]);
});

t.test('file < env < --set', async (t) => {
  const dir = t.testdir({
    'c.json': JSON.stringify({
      mqtt: { url: 'mqtt://file:1883' },
      hls: { segmentSeconds: 2 },
      archive: { segmentSeconds: 10 },
    }),
  });
  const file = path.join(dir, 'c.json');
  t.equal(loadConfig({ file, env: {} }).config.mqtt.url, 'mqtt://file:1883', 'file over defaults');
  const env = { EDGE_AGENT_MQTT_URL: 'mqtt://env:1883', EDGE_AGENT_HLS_SEGMENT_SECONDS: '5' };
  const fromEnv = loadConfig({ file, env }).config;
  t.equal(fromEnv.mqtt.url, 'mqtt://env:1883', 'env over file');
  t.equal(fromEnv.hls.segmentSeconds, 5, 'env numbers are numbers');
  const fromSet = loadConfig({ file, env, sets: ['mqtt.url=mqtt://set:1883', 'hls.segmentSeconds=1'] }).config;
  t.equal(fromSet.mqtt.url, 'mqtt://set:1883', '--set over env');
  t.equal(fromSet.hls.segmentSeconds, 1);
});

t.test('environment variables for every kind of key', async (t) => {
  const { config } = loadConfig({
    file: null,
    env: {
      EDGE_AGENT_DEVICE_ID: '0042',
      EDGE_AGENT_CAMERAS: '[{"id":"door","source":"test","width":640,"height":480,"fps":10}]',
      EDGE_AGENT_ENCODER_PREFER: '["libx264"]',
      EDGE_AGENT_DATA_DIR: '/srv/edge',
      EDGE_AGENT_ANALYSIS_ENABLED: 'true',
      EDGE_AGENT_MQTT_USERNAME: 'null',
      EDGE_AGENT_HTTP_LISTEN: '',
      EDGE_AGENT_CONFIG: '/ignored.json',
    },
  });
  t.equal(config.device.id, '0042', 'string keys keep their text');
  t.same(config.cameras, [{ id: 'door', source: 'test', width: 640, height: 480, fps: 10 }]);
  t.same(config.encoder.prefer, ['libx264']);
  t.equal(config.dataDir, '/srv/edge');
  t.equal(config.analysis.enabled, true);
  t.equal(config.mqtt.username, null);
  t.equal(config.http.listen, '127.0.0.1:8080', 'an empty variable is unset');
  t.same(Object.keys(envOverrides({ EDGE_AGENT_FOO: '1', EDGE_AGENT_HLS_DIR: '/x' })), ['EDGE_AGENT_HLS_DIR']);
});

t.test('a bad environment value is reported by key', async (t) => {
  t.same(
    problemsOf(() => loadConfig({ file: null, env: { EDGE_AGENT_HLS_LIST_SIZE: 'many' } })),
    ['hls.listSize must be an integer between 2 and 100, got "many"'],
  );
});

t.test('--set paths: dotted, bracketed, whole values, json or text', async (t) => {
  const env = { EDGE_AGENT_CAMERAS: '[{"id":"a","source":"test"},{"id":"b","source":"test"}]' };
  const { config } = loadConfig({
    file: null,
    env,
    sets: [
      'cameras[0].fps=15',
      'cameras.1.fps=12',
      'encoder.prefer=["h264_v4l2m2m","libx264"]',
      'device.id=gate-01',
      'mqtt.username="bob"',
      'analysis.prompt=Count the cars',
    ],
  });
  t.equal(config.cameras[0]!.fps, 15);
  t.equal(config.cameras[1]!.fps, 12);
  t.same(config.encoder.prefer, ['h264_v4l2m2m', 'libx264']);
  t.equal(config.device.id, 'gate-01');
  t.equal(config.mqtt.username, 'bob');
  t.equal(config.analysis.prompt, 'Count the cars');
  const appended = loadConfig({ file: null, env: {}, sets: ['cameras[1]={"id":"two","source":"test"}'] }).config;
  t.same(
    appended.cameras.map((c) => c.id),
    ['cam1', 'two'],
    'an index one past the end appends',
  );
});

t.test('--set errors', async (t) => {
  const cases: [string, string[], string[]][] = [
    [
      'no equals sign',
      ['hls.listSize'],
      ['--set "hls.listSize" must look like key.path=value, e.g. mqtt.url=mqtt://broker:1883 or cameras[0].fps=15'],
    ],
    [
      'unknown key',
      ['mqtt.host=x'],
      [
        'mqtt.host is not a known key; known keys: mqtt.url, mqtt.topicPrefix, mqtt.healthIntervalSeconds, mqtt.configGateSeconds, mqtt.username, mqtt.passwordFile, mqtt.ca, mqtt.cert, mqtt.key, mqtt.commandKeyFile, mqtt.requireScopedSignatures, mqtt.allowInsecure, mqtt.unsignedSensitiveChanges, mqtt.homeAssistant',
      ],
    ],
    ['inside a plain value', ['hls.dir.x=1'], ['hls.dir.x is not a known key: hls.dir has no parts to set']],
    [
      'prototype pollution',
      ['__proto__.x=1'],
      ['--set "__proto__.x=1" must look like key.path=value, e.g. mqtt.url=mqtt://broker:1883 or cameras[0].fps=15'],
    ],
    [
      'index past the end',
      ['cameras[3].fps=1'],
      ['cameras[3] cannot be set: the list has 1 item(s), so the next index is 1'],
    ],
    [
      'unknown camera key',
      ['cameras[0].zoom=2'],
      ['cameras[0].zoom is not a known key; a camera has id, source, width, height, fps, analysis'],
    ],
    ['bad value', ['cameras[0].fps=0'], ['cameras[0].fps must be an integer between 1 and 120, got 0']],
  ];
  for (const [name, sets, expected] of cases)
    t.same(
      problemsOf(() => loadConfig({ file: null, env: {}, sets })),
      expected,
      name,
    );
  t.same(parseSetArgs(['a.b.c[0]x=1']).entries, [], 'malformed path');
});

t.test('file problems are ConfigErrors with the position', async (t) => {
  const dir = t.testdir({
    'broken.json': '{\n  "hls": {\n    "dir": "/x",\n  }\n}\n',
    'token.json': '{"hls": {"dir": x}}',
    'empty.json': '  \n',
    'list.json': '[]',
    'bom.json': '\uFEFF{"device": {"id": "bom"}}',
    sub: {},
  });
  const at = (name: string) => path.join(dir, name);
  t.same(
    problemsOf(() => loadConfig({ file: at('broken.json'), env: {} })),
    [
      `config file ${at('broken.json')} is not valid json at line 4, column 3 (position 32): expected double-quoted property name`,
    ],
  );
  t.same(
    problemsOf(() => loadConfig({ file: at('token.json'), env: {} })),
    [`config file ${at('token.json')} is not valid json at line 1, column 17 (position 16): unexpected token 'x'`],
  );
  t.same(
    problemsOf(() => loadConfig({ file: at('empty.json'), env: {} })),
    [`config file ${at('empty.json')} is empty; write {} to use the built-in defaults`],
  );
  t.same(
    problemsOf(() => loadConfig({ file: at('list.json'), env: {} })),
    [`config file ${at('list.json')} must hold a json object like {"mqtt": {...}}, got []`],
  );
  t.same(
    problemsOf(() => loadConfig({ file: at('absent.json'), env: {} })),
    [`config file ${at('absent.json')} cannot be read: enoent: no such file or directory`],
  );
  t.same(
    problemsOf(() => loadConfig({ file: at('sub'), env: {} })),
    [`config file ${at('sub')} cannot be read: eisdir: illegal operation on a directory, read`],
  );
  t.equal(loadConfig({ file: at('bom.json'), env: {} }).config.device.id, 'bom', 'a byte order mark is ignored');
});

t.test('problems from the file, the environment and --set are reported together', async (t) => {
  const dir = t.testdir({ 'c.json': '{"colour": 1}' });
  const file = path.join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ colour: 1, hls: { listSize: 0 } }));
  const problems = problemsOf(() => loadConfig({ file, env: { EDGE_AGENT_MQTT_URL: 'x' }, sets: ['nope=1'] }));
  t.equal(problems.length, 4);
});

t.test('the daily analysis budget: config keys, the old environment variable still overrides them', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ analysis: { dailyTokens: 100000, dailyRequests: 20 } }) });
  const file = path.join(dir, 'c.json');
  t.match(loadConfig({ file: null, env: {} }).config.analysis, {
    dailyTokens: null,
    dailyRequests: null,
    deferAfterMinutes: 10,
  });
  t.match(loadConfig({ file, env: {} }).config.analysis, { dailyTokens: 100000, dailyRequests: 20 });
  t.equal(
    loadConfig({ file, env: { EDGE_AGENT_ANALYSIS_DAILY_TOKENS: '500000' } }).config.analysis.dailyTokens,
    500000,
    'the variable overrides the file',
  );
  t.equal(
    loadConfig({ file, env: { EDGE_AGENT_ANALYSIS_DAILY_TOKENS: '0' } }).config.analysis.dailyTokens,
    0,
    '0 (no limit) as before',
  );
  t.throws(
    () => loadConfig({ file: null, env: {}, sets: ['analysis.dailyRequests=-1'] }),
    /analysis.dailyRequests must be null or an integer between 0 and/,
  );
  t.throws(
    () => loadConfig({ file: null, env: {}, sets: ['analysis.deferAfterMinutes=0'] }),
    /analysis.deferAfterMinutes must be an integer between 1 and 1440/,
  );
});

t.test("the analysis cost levers: environment, --set, and a camera's own through --set", async (t) => {
  const { config } = loadConfig({
    file: null,
    env: { EDGE_AGENT_ANALYSIS_FPS: '0.5', EDGE_AGENT_ANALYSIS_SKIP_DUPLICATES: 'false' },
    sets: ['analysis.resolution=medium', 'cameras[0].analysis.fps=1', 'cameras[0].analysis.duplicateDistance=4'],
  });
  t.match(config.analysis, {
    fps: 0.5,
    resolution: 'medium',
    skipDuplicates: false,
    duplicateMotion: 0.001,
    duplicateDistance: 8,
  });
  t.same(config.cameras[0]!.analysis, { fps: 1, duplicateDistance: 4 });
  t.same(
    problemsOf(() => loadConfig({ file: null, env: {}, sets: ['cameras[0].analysis.zoom=2', 'analysis.fps=25'] })),
    [
      "cameras[0].analysis.zoom is not a known key; a camera's analysis has fps, resolution, skipDuplicates, duplicateMotion, duplicateDistance",
      'analysis.fps must be a number above 0 up to 24, got 25',
    ],
    'in schema order',
  );
});
