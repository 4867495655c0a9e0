/**
 * The config service's refusals (step 1 of README "Config over MQTT"), its revert (step 6) and
 * the persisted replay cache, in-process with the agent's modules stood in for.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ChangePlan } from '../../../agent/config/diff.js';
import { loadConfig } from '../../../agent/config/load.js';
import type { AgentConfig } from '../../../agent/config/types.js';
import { DesiredConfig } from '../../../agent/config/desired.js';
import { cameraPasses, ConfigService } from '../../../agent/config/configService.js';
import type { CameraStats } from '../../../agent/contract/services.js';
import type { ReportedConfigMessage } from '../../../agent/contract/messages.js';
import { signCommand, SignatureVerifier } from '../../../agent/link/signature.js';
import { SeenSignatures } from '../../../agent/store/kv.js';
import { openStore } from '../../../agent/store/store.js';
import { EventBus } from '../../../agent/util/bus.js';
import { silentLogger } from '../../../agent/util/logger.js';

function setup(
  t: Test,
  options: {
    signing?: boolean;
    failApply?: (next: AgentConfig) => boolean;
    mqtt?: Record<string, unknown>;
    cameras?: unknown[];
  } = {},
) {
  const dir = t.testdir();
  const file = path.join(dir, 'config.json');
  const cameras = options.cameras ? { cameras: options.cameras } : {};
  writeFileSync(
    file,
    JSON.stringify({
      device: { id: 'unit' },
      dataDir: path.join(dir, 'data'),
      mqtt: { configGateSeconds: 1, ...options.mqtt },
      ...cameras,
    }),
  );
  let running = loadConfig({ file, env: {} }).config;
  const applied: Array<{ next: AgentConfig; plan: ChangePlan }> = [];
  const bus = new EventBus();
  const reverted: string[] = [];
  bus.on('config.reverted', (e) => reverted.push(e.reason));
  const service = new ConfigService({
    file,
    current: () => running,
    apply: async (next, plan) => {
      running = next;
      applied.push({ next, plan });
      if (options.failApply?.(next)) throw new Error('listen EADDRINUSE');
    },
    signingRequired: () => options.signing ?? false,
    probes: {
      link: async () => null,
      http: () => null,
      cameras: () =>
        running.cameras.map((c) => ({
          camera: c.id,
          state: 'running' as const,
          encoder: 'libx264',
          source: c.source,
          fps: c.fps,
          droppedFrames: 0,
          restarts: 0,
          lastFrameAgeSeconds: 0.1,
          recordingSince: null,
          lastError: null,
        })),
    },
    unrecoverable: () => t.fail('unrecoverable'),
    bus,
    log: silentLogger(),
    gatePollMs: 10,
  });
  service.open();
  return { service, file, applied, reverted, running: () => running };
}

t.test('step 1 refuses keys that need a restart, naming them, and changes nothing', async (t) => {
  const { service, file, applied } = setup(t);
  const before = readFileSync(file, 'utf8');
  for (const [key, value] of [
    ['device.id', 'other'],
    ['dataDir', '/srv/x'],
    ['archive.dir', '/srv/a'],
  ] as const) {
    const outcome = await service.change({ sets: { [key]: value }, signed: false, origin: 'test' });
    t.match(
      outcome,
      { status: 'rejected', code: 400, errorCode: 'restart_required', message: new RegExp(key.replace('.', '\\.')) },
      `${key} refused`,
    );
  }
  t.equal(applied.length, 0, 'nothing was applied');
  t.equal(readFileSync(file, 'utf8'), before, 'the file is untouched');
  await t.rejects(
    service.set({ dataDir: '/srv/y' }),
    { code: 'restart_required' },
    'set-config gets the code as its error',
  );
});

t.test('with a command key, sensitive keys need a signed request', async (t) => {
  const { service, applied } = setup(t, { signing: true });
  for (const [key, value] of [
    ['mqtt.url', 'mqtt://evil:1883'],
    ['analysis.baseUrl', 'https://evil'],
    ['mqtt.passwordFile', '/etc/hostname'],
    ['http.listen', '127.0.0.1:9999'],
  ] as const) {
    const outcome = await service.change({ sets: { [key]: value }, signed: false, origin: 'test' });
    t.match(
      outcome,
      { status: 'rejected', errorCode: 'unauthorized', message: new RegExp(key.replace('.', '\\.')) },
      `unsigned ${key} refused`,
    );
  }
  t.equal(applied.length, 0, 'nothing was applied');
  const plain = await service.change({ sets: { 'hls.listSize': 8 }, signed: false, origin: 'test' });
  t.match(plain, { status: 'applied' }, 'a plain key needs no signature');
  const signed = await service.change({ sets: { 'http.listen': '127.0.0.1:9999' }, signed: true, origin: 'test' });
  t.match(signed, { status: 'applied', changed: ['http.listen'] }, 'a signed request may change a sensitive key');
});

// Issue 15: one unsigned message could point hls.dir at dataDir (emptied by the HLS reset), send the
// Gemini key or broker password to another host, or read local media through a file: camera.
const LOCAL_WITHOUT_KEY: Array<[string, unknown]> = [
  ['mqtt.url', 'mqtt://evil:1883'],
  ['mqtt.username', 'x'],
  ['mqtt.passwordFile', '/etc/hostname'],
  ['mqtt.ca', '/etc/hostname'],
  ['mqtt.commandKeyFile', '/etc/hostname'],
  ['mqtt.topicPrefix', 'other'],
  ['analysis.baseUrl', 'https://evil.example'],
  ['analysis.apiKeyFile', '/etc/hostname'],
  ['http.listen', '127.0.0.1:9998'],
  ['http.tokenFile', '/etc/hostname'],
  ['hls.dir', '/tmp/elsewhere'],
  ['cameras[0].source', 'file:/etc/passwd'],
  [
    'cameras',
    [
      { id: 'cam1', source: 'test' },
      { id: 'cam9', source: 'file:///srv/media/private.mp4' },
    ],
  ],
];

t.test('without a command key, keys that redirect the board, its secrets or its folders are local only', async (t) => {
  const { service, applied, file } = setup(t);
  const before = readFileSync(file, 'utf8');
  for (const [key, value] of LOCAL_WITHOUT_KEY) {
    const outcome = await service.change({ sets: { [key]: value }, signed: false, origin: 'test' });
    t.match(
      outcome,
      { status: 'rejected', code: 400, errorCode: 'local_only', message: /config file or with --set/ },
      `${key} refused`,
    );
  }
  const tls = await service.change({
    sets: { 'mqtt.cert': '/etc/hostname', 'mqtt.key': '/etc/hostname' },
    signed: false,
    origin: 'test',
  });
  t.match(tls, { errorCode: 'local_only', message: /mqtt\.cert, mqtt\.key/ }, 'mqtt.cert and mqtt.key refused');
  for (const key of ['device.id', 'dataDir', 'archive.dir']) {
    t.match(
      await service.change({ sets: { [key]: '/x' }, signed: false, origin: 'test' }),
      { status: 'rejected' },
      `${key} refused`,
    );
  }
  await t.rejects(
    service.set({ 'analysis.baseUrl': 'http://evil.example' }),
    { code: 'local_only' },
    'set-config gets the code as its error',
  );
  t.equal(applied.length, 0, 'nothing was applied');
  t.equal(readFileSync(file, 'utf8'), before, 'the file is untouched');
  t.match(
    await service.change({ sets: { 'hls.listSize': 8, 'cameras[0].fps': 15 }, signed: false, origin: 'test' }),
    { status: 'applied' },
    'allow-listed keys still change',
  );
});

t.test('Home Assistant pictures: turning them on needs a signature, turning them off does not', async (t) => {
  const { service } = setup(t, { mqtt: { homeAssistant: { enabled: true } } });
  t.match(
    await service.change({ sets: { 'mqtt.homeAssistant.enabled': false }, signed: false, origin: 'test' }),
    { status: 'applied' },
    'off, unsigned',
  );
  t.match(
    await service.change({ sets: { 'mqtt.homeAssistant.enabled': true }, signed: false, origin: 'test' }),
    { errorCode: 'local_only' },
    'on again, unsigned: refused',
  );
  t.match(
    await service.change({ sets: { 'mqtt.homeAssistant.enabled': 'no' }, signed: false, origin: 'test' }),
    { errorCode: 'local_only' },
    'a value that is not false is not "off"',
  );
});

t.test('a file: camera already in the file may stay while other cameras change', async (t) => {
  // file: sources lie in <dataDir>/media/ (validation); setup puts dataDir at <testdir>/data.
  const media = `file://${path.join(t.testdirName, 'data', 'media')}`;
  const { service } = setup(t, {
    cameras: [
      { id: 'cam1', source: `${media}/loop.mp4` },
      { id: 'cam2', source: 'test' },
    ],
  });
  t.match(await service.change({ sets: { 'cameras[1].fps': 12 }, signed: false, origin: 'test' }), {
    status: 'applied',
  });
  t.match(
    await service.change({ sets: { 'cameras[0].source': `${media}/other.mp4` }, signed: false, origin: 'test' }),
    { errorCode: 'local_only' },
  );
});

t.test(
  'R/config/desired takes the same refusals: rejected, 400, the code in the message, nothing changed',
  async (t) => {
    const { service, applied, file } = setup(t);
    const before = readFileSync(file, 'utf8');
    const reports: ReportedConfigMessage[] = [];
    const desired = new DesiredConfig({
      change: (request) => service.change(request),
      load: () => null,
      save: () => undefined,
      report: (m) => reports.push(m),
      config: () => ({}),
      signed: () => false,
      log: silentLogger(),
    });
    await desired.process(Buffer.from(JSON.stringify({ version: 1, set: { 'hls.dir': '/var/lib/edge-agent' } })));
    await desired.process(
      Buffer.from(JSON.stringify({ version: 2, set: { 'analysis.baseUrl': 'http://evil.example' } })),
    );
    t.match(reports, [
      { version: 1, status: 'rejected', code: 400, message: /hls\.dir can only be changed/ },
      { version: 2, status: 'rejected', code: 400 },
    ]);
    t.equal(applied.length, 0);
    t.equal(readFileSync(file, 'utf8'), before);
  },
);

t.test('the local-only switches never change remotely, signed or not', async (t) => {
  const { service, applied } = setup(t, { signing: true });
  for (const key of [
    'mqtt.allowInsecure',
    'analysis.allowInsecure',
    'mqtt.requireScopedSignatures',
    'mqtt.unsignedSensitiveChanges',
  ]) {
    const value = key === 'mqtt.requireScopedSignatures' ? false : true;
    for (const signed of [false, true]) {
      const outcome = await service.change({
        sets: { [key]: value, ...(value ? {} : { 'hls.listSize': 7 }) },
        signed,
        origin: 'test',
      });
      if (value)
        t.match(outcome, { status: 'rejected', errorCode: 'local_only' }, `${key} refused (signed: ${signed})`);
    }
  }
  const setup2 = setup(t, { signing: true, mqtt: { requireScopedSignatures: true } });
  t.match(
    await setup2.service.change({ sets: { 'mqtt.requireScopedSignatures': false }, signed: true, origin: 'test' }),
    { errorCode: 'local_only' },
    'scoped-only cannot be switched off',
  );
  t.equal(
    applied.filter((a) => a.plan.keys.some((k) => k.endsWith('allowInsecure') || k === 'mqtt.unsignedSensitiveChanges'))
      .length,
    0,
  );
});

t.test('remote changes keep the disk and memory guards on', async (t) => {
  const { service, applied } = setup(t, { signing: true });
  for (const [sets, pattern] of [
    [{ 'archive.minFreePercent': 0 }, /archive\.minFreePercent must be at least 5 when set over mqtt/],
    [{ 'hls.listSize': 100 }, /hls\.listSize must be at most 20/],
    [{ 'hls.segmentSeconds': 10, 'hls.listSize': 20, 'archive.segmentSeconds': 600 }, /at most 120 s/],
  ] as const) {
    for (const signed of [false, true]) {
      const outcome = await service.change({ sets, signed, origin: 'test' });
      t.match(
        outcome,
        { status: 'rejected', errorCode: 'config_invalid', message: pattern },
        `${JSON.stringify(sets)} refused (signed: ${signed})`,
      );
    }
  }
  t.equal(applied.length, 0, 'nothing was applied');
  t.match(
    await service.change({ sets: { 'archive.minFreePercent': 5, 'hls.listSize': 20 }, signed: false, origin: 'test' }),
    { status: 'applied' },
    'at the floor is fine',
  );
});

t.test('mqtt.unsignedSensitiveChanges in the file restores the old behaviour', async (t) => {
  const { service } = setup(t, { mqtt: { unsignedSensitiveChanges: true } });
  t.match(await service.change({ sets: { 'http.listen': '127.0.0.1:9998' }, signed: false, origin: 'test' }), {
    status: 'applied',
  });
});

t.test('an apply that throws is reverted at once and the file is not written', async (t) => {
  const { service, file, applied, reverted, running } = setup(t, {
    signing: true,
    failApply: (next) => next.http.listen === '127.0.0.1:1',
  });
  const before = readFileSync(file, 'utf8');
  const outcome = await service.change({ sets: { 'http.listen': '127.0.0.1:1' }, signed: true, origin: 'test' });
  t.match(outcome, { status: 'reverted', code: 500, errorCode: 'config_reverted', message: /EADDRINUSE/ });
  t.equal(readFileSync(file, 'utf8'), before, 'the file is untouched');
  t.equal(applied.length, 2, 'applied, then the previous config applied again');
  t.equal(running().http.listen, '127.0.0.1:8080', 'the running config is the previous one');
  t.same(applied[1]!.plan.keys, ['http.listen'], 'the revert touches the same keys');
  t.equal(reverted.length, 1, 'config.reverted was emitted');
});

t.test('the replay cache survives a restart', async (t) => {
  const dir = t.testdir();
  const key = 'k';
  const store = openStore(dir);
  t.teardown(() => store.close());
  const body = signCommand(key, 'ping', { ts: Date.now() });
  const first = new SignatureVerifier({ key: () => key, persist: new SeenSignatures(store) });
  t.doesNotThrow(() => first.verify('ping', body), 'accepted once');
  const afterRestart = new SignatureVerifier({ key: () => key, persist: new SeenSignatures(store) });
  t.throws(
    () => afterRestart.verify('ping', body),
    { code: 'unauthorized', message: /replayed/ },
    'refused by a new verifier on the same store',
  );
  const unpersisted = new SignatureVerifier({ key: () => key });
  t.doesNotThrow(() => unpersisted.verify('ping', body), 'without the store a restart would have accepted it');
});

t.test(
  "the gate's camera rule: running with a fresh frame passes; a camera failing before is not the change's fault",
  async (t) => {
    const stats = (over: Partial<CameraStats>): CameraStats => ({
      camera: 'c',
      state: 'running',
      encoder: 'libx264',
      source: 'test',
      fps: 15,
      droppedFrames: 0,
      restarts: 0,
      lastFrameAgeSeconds: 0.1,
      recordingSince: null,
      lastError: null,
      ...over,
    });
    const dead = stats({ state: 'starting', lastFrameAgeSeconds: null });
    const cases: Array<[string, CameraStats | undefined, CameraStats | undefined, boolean]> = [
      ['running after, a fresh frame', stats({ state: 'starting' }), stats({}), true],
      ['running after, but its last frame is old', stats({}), stats({ lastFrameAgeSeconds: 30 }), false],
      ['gone after the change', stats({}), undefined, false],
      ['dead after, running before', stats({}), dead, false],
      [
        'dead after, a first start before (after an earlier change): must run',
        stats({ state: 'starting' }),
        dead,
        false,
      ],
      ['dead after, restarting before', stats({ state: 'restarting', lastError: 'refused' }), dead, true],
      ['dead after, failed before', stats({ state: 'failed', lastError: 'refused' }), dead, true],
      [
        'dead after, starting again after failing before (a dead IP camera between tries)',
        stats({ state: 'starting', restarts: 3, lastError: 'Connection refused' }),
        dead,
        true,
      ],
      ['dead after, new camera', undefined, dead, false],
    ];
    for (const [name, before, after, passes] of cases) t.equal(cameraPasses(before, after), passes, name);
  },
);
