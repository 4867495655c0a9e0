/**
 * The config service's refusals (step 1 of README "Config over MQTT"), its revert (step 6) and
 * the persisted replay cache, in-process with the agent's modules stood in for.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ChangePlan } from '../../agent/config/diff.js';
import { loadConfig } from '../../agent/config/load.js';
import type { AgentConfig } from '../../agent/config/types.js';
import { ConfigService } from '../../agent/configService.js';
import { signCommand, SignatureVerifier } from '../../agent/link/signature.js';
import { SeenSignatures } from '../../agent/store/kv.js';
import { openStore } from '../../agent/store/store.js';
import { EventBus } from '../../agent/util/bus.js';
import { silentLogger } from '../../agent/util/logger.js';

function setup(t: Test, options: { signing?: boolean; failApply?: (next: AgentConfig) => boolean } = {}) {
  const dir = t.testdir();
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ device: { id: 'unit' }, dataDir: path.join(dir, 'data'), mqtt: { configGateSeconds: 1 } }));
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
      cameras: () => running.cameras.map((c) => ({ camera: c.id, state: 'running' as const, encoder: 'libx264', source: c.source, fps: c.fps, droppedFrames: 0, restarts: 0, lastFrameAgeSeconds: 0.1, recordingSince: null, lastError: null })),
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
  for (const [key, value] of [['device.id', 'other'], ['dataDir', '/srv/x'], ['archive.dir', '/srv/a']] as const) {
    const outcome = await service.change({ sets: { [key]: value }, signed: false, origin: 'test' });
    t.match(outcome, { status: 'rejected', code: 400, errorCode: 'restart_required', message: new RegExp(key.replace('.', '\\.')) }, `${key} refused`);
  }
  t.equal(applied.length, 0, 'nothing was applied');
  t.equal(readFileSync(file, 'utf8'), before, 'the file is untouched');
  await t.rejects(service.set({ dataDir: '/srv/y' }), { code: 'restart_required' }, 'set-config gets the code as its error');
});

t.test('with a command key, sensitive keys need a signed request', async (t) => {
  const { service, applied } = setup(t, { signing: true });
  for (const [key, value] of [['mqtt.url', 'mqtt://evil:1883'], ['analysis.baseUrl', 'https://evil'], ['mqtt.passwordFile', '/etc/hostname'], ['http.listen', '127.0.0.1:9999']] as const) {
    const outcome = await service.change({ sets: { [key]: value }, signed: false, origin: 'test' });
    t.match(outcome, { status: 'rejected', errorCode: 'unauthorized', message: new RegExp(key.replace('.', '\\.')) }, `unsigned ${key} refused`);
  }
  t.equal(applied.length, 0, 'nothing was applied');
  const plain = await service.change({ sets: { 'hls.listSize': 8 }, signed: false, origin: 'test' });
  t.match(plain, { status: 'applied' }, 'a plain key needs no signature');
  const signed = await service.change({ sets: { 'http.listen': '127.0.0.1:9999' }, signed: true, origin: 'test' });
  t.match(signed, { status: 'applied', changed: ['http.listen'] }, 'a signed request may change a sensitive key');
});

t.test('without a command key, sensitive keys go through the gate like any other', async (t) => {
  const { service } = setup(t);
  t.match(await service.change({ sets: { 'http.listen': '127.0.0.1:9998' }, signed: false, origin: 'test' }), { status: 'applied' });
});

t.test('an apply that throws is reverted at once and the file is not written', async (t) => {
  const { service, file, applied, reverted, running } = setup(t, { failApply: (next) => next.http.listen === '127.0.0.1:1' });
  const before = readFileSync(file, 'utf8');
  const outcome = await service.change({ sets: { 'http.listen': '127.0.0.1:1' }, signed: false, origin: 'test' });
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
  t.throws(() => afterRestart.verify('ping', body), { code: 'unauthorized', message: /replayed/ }, 'refused by a new verifier on the same store');
  const unpersisted = new SignatureVerifier({ key: () => key });
  t.doesNotThrow(() => unpersisted.verify('ping', body), 'without the store a restart would have accepted it');
});
