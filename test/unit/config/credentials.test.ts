import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { loadCredentials } from '../../../agent/config/load.js';
import { validateConfig } from '../../../agent/config/validate.js';

t.test('reads each *File, trimmed', async (t) => {
  const dir = t.testdir({
    pw: 'broker-pw\n',
    key: '  gemini-key \n',
    token: 'tok',
    cmd: 'hmac-key-of-thirty-two-bytes-at-least\n',
  });
  const at = (n: string) => path.join(dir, n);
  const config = validateConfig({
    mqtt: { passwordFile: at('pw'), commandKeyFile: at('cmd') },
    analysis: { apiKeyFile: at('key') },
    http: { tokenFile: at('token') },
  });
  t.same(loadCredentials(config, {}), {
    mqttPassword: 'broker-pw',
    geminiApiKey: 'gemini-key',
    httpToken: 'tok',
    commandKey: 'hmac-key-of-thirty-two-bytes-at-least',
  });
});

t.test('nothing configured: all null; GEMINI_API_KEY is the fallback', async (t) => {
  const config = validateConfig({});
  t.same(loadCredentials(config, {}), { mqttPassword: null, geminiApiKey: null, httpToken: null, commandKey: null });
  t.equal(loadCredentials(config, { GEMINI_API_KEY: ' env-key\n' }).geminiApiKey, 'env-key');
  t.equal(loadCredentials(config, { GEMINI_API_KEY: '  ' }).geminiApiKey, null, 'blank is unset');
});

t.test('a configured file wins over GEMINI_API_KEY', async (t) => {
  const dir = t.testdir({ key: 'from-file' });
  const config = validateConfig({ analysis: { apiKeyFile: path.join(dir, 'key') } });
  t.equal(loadCredentials(config, { GEMINI_API_KEY: 'from-env' }).geminiApiKey, 'from-file');
});

t.test('systemd credentials: relative names and unset paths are looked up in $CREDENTIALS_DIRECTORY', async (t) => {
  const creds = t.testdir({
    'mqtt-password': 'sd-pw\n',
    'gemini-api-key': 'sd-key',
    'http-token': 'sd-tok',
    'my-cmd-key': 'sd-cmd-key-of-thirty-two-bytes-at-least',
  });
  const env = { CREDENTIALS_DIRECTORY: creds };
  const config = validateConfig({ mqtt: { passwordFile: 'mqtt-password', commandKeyFile: 'my-cmd-key' } });
  t.same(loadCredentials(config, env), {
    mqttPassword: 'sd-pw',
    geminiApiKey: 'sd-key',
    httpToken: 'sd-tok',
    commandKey: 'sd-cmd-key-of-thirty-two-bytes-at-least',
  });
  const missingAbsolute = validateConfig({ mqtt: { passwordFile: '/nonexistent/edge-agent/pw' } });
  t.equal(
    loadCredentials(missingAbsolute, env).mqttPassword,
    'sd-pw',
    'an absent absolute path falls back to the credential',
  );
});

t.test('a configured secret that cannot be read is a ConfigError, never a silent null', async (t) => {
  const dir = t.testdir({ empty: '\n', sub: {} });
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'missing',
      { mqtt: { passwordFile: path.join(dir, 'nope') } },
      `mqtt.passwordFile must name a readable file, got ${JSON.stringify(path.join(dir, 'nope'))}, which does not exist`,
    ],
    [
      'empty',
      { http: { tokenFile: path.join(dir, 'empty') } },
      `http.tokenFile must name a file holding the secret, got ${path.join(dir, 'empty')}, which is empty`,
    ],
    [
      'a directory',
      { analysis: { apiKeyFile: path.join(dir, 'sub') } },
      `analysis.apiKeyFile cannot be read from ${path.join(dir, 'sub')}: eisdir: illegal operation on a directory, read`,
    ],
  ];
  for (const [name, raw, expected] of cases) {
    const error = t.throws(() => loadCredentials(validateConfig(raw), {}), ConfigError, name) as ConfigError;
    t.same(error.problems, [expected], name);
  }
});

t.test('a command key shorter than 32 bytes is a config error naming the key, its length and the fix', async (t) => {
  const dir = t.testdir({ short: 'test-command-key\n', exact: `${'k'.repeat(32)}\n` });
  const error = t.throws(
    () => loadCredentials(validateConfig({ mqtt: { commandKeyFile: path.join(dir, 'short') } }), {}),
    ConfigError,
  ) as ConfigError;
  t.same(error.problems, [
    `mqtt.commandKeyFile must hold a key of at least 32 bytes (e.g. the output of openssl rand -hex 32), got 16 bytes in ${path.join(dir, 'short')}`,
  ]);
  t.equal(
    loadCredentials(validateConfig({ mqtt: { commandKeyFile: path.join(dir, 'exact') } }), {}).commandKey,
    'k'.repeat(32),
  );
});
