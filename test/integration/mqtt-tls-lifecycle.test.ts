/**
 * Issue 15 item 5: a real Mosquitto with a TLS listener that requires client certificates, and
 * certificates made here by openssl, the client's expiring in 12 days. R/health and the doctor
 * warn about it; the certificate is then replaced on disk by one from another CA and the broker
 * restarted trusting only that CA: the running link reconnects with the new files, no restart.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { checkTls } from '../../agent/doctor/checks/tls.js';
import type { DoctorContext } from '../../agent/doctor/types.js';
import { makeCa, makeCert, type CertFiles } from '../helpers/certs.js';
import { testConfig } from '../helpers/agentFakes.js';
import { LinkProcess } from '../helpers/linkProcess.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqttClient.js';

const R = 'edge/gate-01';

interface Health {
  mqtt: {
    tls: {
      ca: { daysLeft: number; status: string };
      cert: { daysLeft: number; status: string; subject: string };
    } | null;
  };
}

/** Puts a certificate and key where the agent's config points (key first: never a new cert with an old key for long). */
function install(from: CertFiles, to: CertFiles): void {
  copyFileSync(from.key, `${to.key}.tmp`);
  copyFileSync(from.crt, `${to.crt}.tmp`);
  (['key', 'crt'] as const).forEach((k) => writeFileSync(to[k], readFileSync(`${to[k]}.tmp`)));
}

async function setup(t: Test) {
  const dir = t.testdir();
  const pki = join(dir, 'pki');
  const caA = makeCa(pki, 'ca-a', 400);
  const caB = makeCa(pki, 'ca-b', 400);
  const server = makeCert(pki, 'server', 'localhost', 400, caA, true);
  const expiring = makeCert(pki, 'client-old', 'gate-01-old', 12, caA);
  const renewed = makeCert(pki, 'client-new', 'gate-01-new', 200, caB);
  // What the broker checks client certificates against: CA A now, CA B only after the rotation.
  const clientCas = join(pki, 'client-cas.pem');
  copyFileSync(caA.crt, clientCas);
  const broker = new Mosquitto({
    dir: join(dir, 'broker'),
    tls: true,
    pki: { ca: clientCas, serverCert: server.crt, serverKey: server.key, clientCert: '', clientKey: '' },
  });
  await broker.start();
  t.teardown(() => broker.stop());
  // The agent's files: the CA that signed the broker, and its own certificate and key.
  const mine = { crt: join(dir, 'client.crt'), key: join(dir, 'client.key') };
  install(expiring, mine);
  const config = testConfig({ url: broker.tlsUrl, dataDir: join(dir, 'data') });
  Object.assign(config.mqtt, { ca: caA.crt, cert: mine.crt, key: mine.key, healthIntervalSeconds: 1 });
  const input = { config, password: null, commandKey: null, reconnect: { initialMs: 200, maxMs: 1000 } };
  const watcher = await TestClient.connect(broker.url);
  t.teardown(() => watcher.end());
  await watcher.subscribe(`${R}/#`);
  return { dir, broker, caA, caB, clientCas, expiring, renewed, mine, config, input, watcher };
}

t.test(
  'expiring client certificate: R/health and doctor warn; a replaced certificate is used at the next connect',
  async (t) => {
    const { dir, broker, caB, clientCas, renewed, mine, config, input, watcher } = await setup(t);
    const link = await LinkProcess.start(dir, input);
    t.teardown(() => link.kill());
    await link.connected(1, 20_000);

    // 1. The warning, in R/health (every second here) and in the doctor.
    const health = (await watcher.waitFor((m) => m.topic === `${R}/health`)).json as Health;
    t.match(health.mqtt.tls, {
      ca: { status: 'ok', daysLeft: 399 },
      cert: { status: 'warn', daysLeft: 11, subject: 'CN=gate-01-old' },
    });
    const doctor = await checkTls({ config } as DoctorContext);
    t.match(doctor, [
      { name: 'tls ca', status: 'ok' },
      { name: 'tls client cert', status: 'warn', detail: /11 days left/ },
    ]);

    // 2. Renewal: new certificate and key from CA B on disk; the broker now trusts CA B only.
    install(renewed, mine);
    copyFileSync(caB.crt, clientCas);
    watcher.inbox.length = 0;
    await broker.restart();
    await watcher.end().catch(() => undefined);
    const again = await TestClient.connect(broker.url);
    t.teardown(() => again.end());
    await again.subscribe(`${R}/#`);
    // Only the renewed certificate can pass the restarted broker: connected again means it was read.
    await link.connected(2, 30_000);
    const online = await again.waitFor(
      (m) => m.topic === `${R}/status` && (m.json as { state: string }).state === 'online',
    );
    t.ok(online, 'online again after the broker restart, with the new certificate');
    // The broker kept the retained health from before its restart: wait for a fresh one.
    const renewedHealth = (await again.waitFor((m) => m.topic === `${R}/health` && !m.retain)).json as Health;
    t.match(renewedHealth.mqtt.tls, { cert: { status: 'ok', daysLeft: 199, subject: 'CN=gate-01-new' } });
    t.match(await checkTls({ config } as DoctorContext), [{ status: 'ok' }, { status: 'ok', detail: /199 days left/ }]);
  },
);

t.test('a half-done replacement (new certificate, old key) is refused and the files in use are kept', async (t) => {
  const { dir, broker, caB, clientCas, renewed, mine, input } = await setup(t);
  const link = await LinkProcess.start(dir, input);
  t.teardown(() => link.kill());
  await link.connected(1, 20_000);
  // Only the certificate is replaced: it does not match the key on disk.
  copyFileSync(renewed.crt, mine.crt);
  await broker.restart();
  // The broker still trusts CA A: the link comes back on the pair it holds in memory.
  await link.connected(2, 30_000);
  t.pass('reconnected with the old, matching pair');
  // The key arrives: the next attempt takes the whole new pair (the broker now wants CA B).
  install(renewed, mine);
  copyFileSync(caB.crt, clientCas);
  await broker.restart();
  await link.connected(3, 30_000);
  t.pass('the completed replacement is picked up at the next connect');
});
