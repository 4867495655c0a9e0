import t from 'tap';
import { REDACTED, redactConfig, redactUrlPassword } from '../../../agent/config/redact.js';
import { validateConfig } from '../../../agent/config/validate.js';

t.test('redactUrlPassword hides only the password', async (t) => {
  const cases: [string, string][] = [
    ['mqtt://user:secret@broker:1883', 'mqtt://user:[redacted]@broker:1883'],
    ['rtsp://admin:p@ss@cam/stream?x=1', 'rtsp://admin:[redacted]@cam/stream?x=1'],
    ['mqtts://user@broker', 'mqtts://user@broker'],
    ['wss://broker/path@x:y', 'wss://broker/path@x:y'],
    ['embedded', 'embedded'],
    ['file:/tmp/a:b@c', 'file:/tmp/a:b@c'],
  ];
  for (const [input, expected] of cases) t.equal(redactUrlPassword(input), expected, input);
});

t.test('secret-bearing values read "[redacted]"; the rest is untouched', async (t) => {
  const config = validateConfig({
    cameras: [{ id: 'gate', source: 'rtsp://admin:camsecret@10.0.0.9/live' }],
    mqtt: {
      url: 'mqtts://agent:brokersecret@broker:8883',
      username: 'agent',
      passwordFile: '/etc/edge-agent/mqtt-password',
      ca: '/etc/ca.pem',
      cert: '/etc/cert.pem',
      key: '/etc/key.pem',
      commandKeyFile: 'command-key',
    },
    analysis: { apiKeyFile: '/etc/gemini', baseUrl: 'https://u:proxysecret@proxy/v1' },
    http: { listen: '0.0.0.0:8080', tokenFile: '/etc/token' },
  });
  const before = structuredClone(config);
  const shown = redactConfig(config);
  t.same(config, before, 'the input is not modified');
  t.equal(shown.mqtt.passwordFile, REDACTED);
  t.equal(shown.mqtt.key, REDACTED);
  t.equal(shown.mqtt.commandKeyFile, REDACTED);
  t.equal(shown.analysis.apiKeyFile, REDACTED);
  t.equal(shown.http.tokenFile, REDACTED);
  t.equal(shown.mqtt.url, 'mqtts://agent:[redacted]@broker:8883');
  t.equal(shown.analysis.baseUrl, 'https://u:[redacted]@proxy/v1');
  t.equal(shown.cameras[0]!.source, 'rtsp://admin:[redacted]@10.0.0.9/live');
  t.equal(shown.mqtt.username, 'agent', 'a user name is not a secret');
  t.equal(shown.mqtt.ca, '/etc/ca.pem', 'certificates are public');
  const text = JSON.stringify(shown);
  for (const secret of ['camsecret', 'brokersecret', 'proxysecret']) t.notMatch(text, secret);
});

t.test('unset secrets stay null so the reader sees they are unset', async (t) => {
  const shown = redactConfig(validateConfig({}));
  t.equal(shown.mqtt.passwordFile, null);
  t.equal(shown.http.tokenFile, null);
  t.equal(shown.analysis.apiKeyFile, null);
  t.equal(shown.analysis.baseUrl, null);
});

// Issue 15: query-string passwords were never redacted (get-config, R/config, config print).
t.test('secret query values are redacted in every shown URL', async (t) => {
  const config = validateConfig({
    cameras: [{ id: 'snap', source: 'http://10.0.0.9/video.cgi?user=admin&password=camsecret&ch=1' }],
    analysis: { baseUrl: 'https://proxy/v1?key=proxysecret' },
  });
  const shown = redactConfig(config);
  t.equal(shown.cameras[0]!.source, 'http://10.0.0.9/video.cgi?user=admin&password=[redacted]&ch=1');
  t.equal(shown.analysis.baseUrl, 'https://proxy/v1?key=[redacted]');
});
