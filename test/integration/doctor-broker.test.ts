/** The doctor's broker check against a real Mosquitto: right login, wrong password, TLS with a CA. */
import t from 'tap';
import { checkBroker } from '../../agent/doctor/checks/broker.js';
import { mqttConnect } from '../../agent/doctor/mqttProbe.js';
import type { DoctorContext } from '../../agent/doctor/types.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { agentConfig } from '../helpers/config.js';

t.test('broker check with a real Mosquitto', async (t) => {
  const broker = new Mosquitto({ dir: t.testdir({}), tls: true, users: { board: 'right-pass' } });
  await broker.start();
  t.teardown(() => broker.stop());
  const config = agentConfig();
  const ctx = (url: string, password: string | null, tls = false): DoctorContext =>
    ({
      config: {
        ...config,
        mqtt: {
          ...config.mqtt,
          url,
          username: 'board',
          ...(tls ? { ca: broker.pki!.ca, cert: broker.pki!.clientCert, key: broker.pki!.clientKey } : {}),
        },
      },
      credentials: { mqttPassword: password, geminiApiKey: null, httpToken: null, commandKey: null },
      mqttConnect,
      timeoutMs: 5000,
    }) as unknown as DoctorContext;

  const good = await checkBroker(ctx(broker.url, 'right-pass'));
  t.equal(good.status, 'ok', good.detail);
  t.match(good.detail, /as board/);

  const bad = await checkBroker(ctx(broker.url, 'wrong'));
  t.equal(bad.status, 'fail');
  t.match(bad.detail, /[Nn]ot authori[sz]ed/);
  t.match(bad.fix, /refused the login/);

  const tls = await checkBroker(ctx(broker.tlsUrl, 'right-pass', true));
  t.equal(tls.status, 'ok', tls.detail);
});
