/** Issue 15: plain-text mqtt://, ws:// and http:// were accepted together with passwords and keys. */
import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { assertSecureTransports } from '../../../agent/config/transport.js';
import { validateConfig } from '../../../agent/config/validate.js';

const problems = (raw: Record<string, unknown>): string[] => {
  try {
    validateConfig(raw);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

const cases: Array<[string, Record<string, unknown>, RegExp | null]> = [
  [
    'mqtt:// off loopback with a password file',
    { mqtt: { url: 'mqtt://broker.example:1883', passwordFile: '/etc/pw' } },
    /^mqtt\.url must be mqtts:\/\/ or wss:\/\/ when a broker password is configured .*broker\.example.*set mqtt\.allowInsecure to true/,
  ],
  [
    'ws:// with a password in the URL',
    { mqtt: { url: 'ws://u:secret@broker.example/mqtt' } },
    /^mqtt\.url must be mqtts:\/\/.*"ws:\/\/u:\[redacted\]@broker\.example\/mqtt"/,
  ],
  [
    'mqtt:// off loopback, allowInsecure',
    { mqtt: { url: 'mqtt://broker.example', passwordFile: '/etc/pw', allowInsecure: true } },
    null,
  ],
  ['mqtts:// with a password', { mqtt: { url: 'mqtts://broker.example', passwordFile: '/etc/pw' } }, null],
  [
    'mqtt:// on loopback with a password (a local Mosquitto, the tests)',
    { mqtt: { url: 'mqtt://127.0.0.1:1883', passwordFile: '/etc/pw' } },
    null,
  ],
  ['mqtt:// on localhost / ::1', { mqtt: { url: 'mqtt://[::1]:1883', passwordFile: '/etc/pw' } }, null],
  ['mqtt:// without a password', { mqtt: { url: 'mqtt://broker.example' } }, null],
  ['the embedded broker', {}, null],
  [
    'http:// baseUrl off loopback with an api key file',
    { analysis: { baseUrl: 'http://proxy.example/v1', apiKeyFile: '/etc/key' } },
    /^analysis\.baseUrl must be https:\/\/ when an api key is configured .*set analysis\.allowInsecure to true/,
  ],
  [
    'http:// baseUrl, allowInsecure',
    { analysis: { baseUrl: 'http://proxy.example', apiKeyFile: '/etc/key', allowInsecure: true } },
    null,
  ],
  [
    'http:// baseUrl on loopback (the fake Gemini)',
    { analysis: { baseUrl: 'http://127.0.0.1:9999', apiKeyFile: '/etc/key' } },
    null,
  ],
  ['https:// baseUrl', { analysis: { baseUrl: 'https://proxy.example', apiKeyFile: '/etc/key' } }, null],
];
for (const [name, raw, expected] of cases) {
  t.test(name, async (t) => {
    const found = problems(raw);
    if (expected === null) t.same(found, []);
    else t.match(found, [expected]);
  });
}

t.test('secrets from systemd credentials or $GEMINI_API_KEY are checked at start', async (t) => {
  const config = validateConfig({
    mqtt: { url: 'mqtt://broker.example' },
    analysis: { baseUrl: 'http://proxy.example' },
  });
  t.throws(() => assertSecureTransports(config, { mqttPassword: 'pw', geminiApiKey: null }), {
    code: 'config_invalid',
    message: /mqtt\.url must be/,
  });
  t.throws(() => assertSecureTransports(config, { mqttPassword: null, geminiApiKey: 'k' }), {
    message: /analysis\.baseUrl must be/,
  });
  t.doesNotThrow(() => assertSecureTransports(config, { mqttPassword: null, geminiApiKey: null }));
});
