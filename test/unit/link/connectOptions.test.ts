import { writeFileSync } from 'node:fs';
import t from 'tap';
import { connectPlan, safeUrl } from '../../../agent/link/connectOptions.js';
import type { MqttConfig } from '../../../agent/config/types.js';
import { agentConfig } from '../../helpers/config.js';

const mqtt: MqttConfig = agentConfig({ mqtt: { url: 'mqtt://broker:1883' } }).mqtt;
const will = { state: 'offline' as const, version: '1', startedAt: 'x', session: 1, ts: 'y' };
const base = {
  mqtt,
  url: mqtt.url,
  clientId: 'gate-01',
  password: null,
  protocolVersion: 5 as const,
  willTopic: 'edge/gate-01/status',
  will,
  reconnectPeriodMs: 1000,
};

t.test('client id, keepalive, retained offline will, no QoS 0 queue, reconnect on refused CONNACK', async (t) => {
  const { options } = connectPlan(base);
  t.match(options, {
    clientId: 'gate-01',
    protocolVersion: 5,
    keepalive: 30,
    queueQoSZero: false,
    reconnectOnConnackError: true,
    resubscribe: false,
    clean: true,
  });
  t.match(options.will, { topic: 'edge/gate-01/status', qos: 1, retain: true });
  t.same(JSON.parse(String(options.will!.payload)), will);
  t.notOk('username' in options);
});

t.test('no pre-built buffers for the 65,536 message ids (6 MB of heap, issue 20)', async (t) => {
  t.equal(connectPlan(base).options.writeCache, false);
});

t.test('username and password are passed when given', async (t) => {
  const { options } = connectPlan({ ...base, mqtt: { ...mqtt, username: 'dev' }, password: 's3cret' });
  t.equal(options.username, 'dev');
  t.equal(options.password, 's3cret');
});

t.test('mqtts reads CA, cert and key files; a missing file is a config error', async (t) => {
  const dir = t.testdir();
  for (const f of ['ca', 'cert', 'key']) writeFileSync(`${dir}/${f}.pem`, f);
  const tls = { ...mqtt, ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
  const { options } = connectPlan({ ...base, mqtt: tls, url: 'mqtts://broker:8883' });
  t.equal(String(options.ca), 'ca');
  t.equal(String(options.cert), 'cert');
  t.equal(String(options.key), 'key');
  t.throws(() => connectPlan({ ...base, mqtt: { ...tls, ca: `${dir}/nope` }, url: 'wss://b/mqtt' }), {
    code: 'config_invalid',
    message: /mqtt.ca/,
  });
});

t.test('only mqtt, mqtts, ws, wss', async (t) => {
  t.doesNotThrow(() => connectPlan({ ...base, url: 'ws://b:9001/mqtt' }));
  t.throws(() => connectPlan({ ...base, url: 'http://b' }), { code: 'config_invalid' });
  t.throws(() => connectPlan({ ...base, url: 'nonsense' }), { code: 'config_invalid' });
});

t.test('safeUrl drops credentials', async (t) => {
  t.equal(safeUrl('mqtts://u:p@host:8883'), 'mqtts://host:8883');
});
