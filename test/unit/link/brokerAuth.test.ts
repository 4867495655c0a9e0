/** The embedded broker's logins (brokerUsers.ts) and access rules (brokerAcl.ts). */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CONNACK, login, mayPublish, maySubscribe } from '../../../agent/link/brokerAcl.js';
import { agentLogin, loadBrokerUsers, samePassword, technicianLogin } from '../../../agent/link/brokerUsers.js';

const R = 'edge/gate-01';

t.test('who may publish where', async (t) => {
  const cases: Array<[string, 'agent' | 'technician' | undefined, string, boolean, boolean]> = [
    ['the agent: its status, retained', 'agent', `${R}/status`, true, true],
    ['the agent: a reply anywhere', 'agent', 'replies/x', false, true],
    ['technician: a command', 'technician', `${R}/cmd/ping`, false, true],
    ['technician: a retained command (would run at every reconnect)', 'technician', `${R}/cmd/ping`, true, false],
    ["technician: the desired config (the back end's input)", 'technician', `${R}/config/desired`, true, true],
    ['technician: the desired release (the fleet form of update)', 'technician', `${R}/release/desired`, true, true],
    ['technician: the release report', 'technician', `${R}/release`, true, false],
    ['technician: status', 'technician', `${R}/status`, true, false],
    ['technician: events', 'technician', `${R}/events`, false, false],
    ['technician: health', 'technician', `${R}/health`, false, false],
    ['technician: analysis', 'technician', `${R}/analysis`, false, false],
    ['technician: config', 'technician', `${R}/config`, true, false],
    ['technician: reported config', 'technician', `${R}/config/reported`, true, false],
    ['technician: R itself', 'technician', R, false, false],
    ['technician: R/cmd without a name', 'technician', `${R}/cmd`, false, false],
    ['technician: a reply topic outside R', 'technician', `replies/${R}/1`, false, true],
    ['technician: a look-alike root is not R', 'technician', `${R}x/status`, false, true],
    ['technician: $SYS', 'technician', '$SYS/broker/x', false, false],
    ['nobody (no login): even a command', undefined, `${R}/cmd/ping`, false, false],
  ];
  for (const [name, role, topic, retain, allowed] of cases) t.equal(mayPublish(role, R, topic, retain), allowed, name);
  t.ok(maySubscribe('technician'));
  t.notOk(maySubscribe(undefined));
});

t.test('logins', async (t) => {
  const users = {
    agent: { username: 'edge-agent', password: 'a'.repeat(43) },
    technician: { username: 'technician', password: 't'.repeat(43) },
    technicianFile: '/x',
  };
  const pw = (s: string) => Buffer.from(s);
  t.same(login(users, 'gate-01', 'gate-01', 'edge-agent', pw('a'.repeat(43))), { role: 'agent' });
  t.same(login(users, 'gate-01', 'laptop', 'technician', pw('t'.repeat(43))), { role: 'technician' });
  t.match(login(users, 'gate-01', 'gate-01', 'technician', pw('t'.repeat(43))), {
    refused: CONNACK.identifierRejected,
  });
  t.match(login(users, 'gate-01', 'laptop', 'technician', pw('a'.repeat(43))), { refused: CONNACK.badLogin });
  t.match(login(users, 'gate-01', 'laptop', 'edge-agent', undefined), { refused: CONNACK.badLogin });
  t.same(login(users, 'gate-01', 'laptop', undefined, undefined), { role: 'reader' }, 'no user name: a local reader');
  t.match(
    login(users, 'gate-01', 'gate-01', undefined, undefined),
    { refused: CONNACK.identifierRejected },
    "who may not take the agent's client id either",
  );
  t.notOk(mayPublish('reader', 'edge/gate-01', 'edge/gate-01/cmd/ping', false), 'a reader sends no command');
  t.notOk(mayPublish('reader', 'edge/gate-01', 'edge/gate-01/config/desired', true), 'nor a desired config');
  t.notOk(mayPublish('reader', 'edge/gate-01', 'replies/x', false), 'nor anything else');
  t.ok(maySubscribe('reader'), 'but reads');
  t.notOk(samePassword(pw('t'.repeat(42)), 't'.repeat(43)), 'a prefix is not the password');
});

t.test('the agent makes its login once, 0600, and keeps it', async (t) => {
  const dir = t.testdir({ other: {} });
  const first = agentLogin(dir);
  t.match(first, { username: 'edge-agent', password: /^[A-Za-z0-9_-]{43}$/ });
  const file = join(dir, 'broker-credentials.json');
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(agentLogin(dir), first, 'read back, not made again');
  t.not(agentLogin(join(dir, 'other')).password, first.password, 'random per board');
  chmodSync(file, 0o644);
  t.same(agentLogin(dir), first);
  t.equal(statSync(file).mode & 0o777, 0o600, 'made private again');
  writeFileSync(file, '{"username":"edge-agent","password":"');
  const remade = agentLogin(dir);
  t.not(remade.password, first.password, 'a broken file (only the agent uses it) is replaced');
  t.equal(JSON.parse(readFileSync(file, 'utf8')).password, remade.password);
});

t.test("the technicians' password: the credentials folder first, else made in dataDir", async (t) => {
  const dir = t.testdir({
    data: {},
    creds: { 'mqtt-technician': '  from-the-credentials-folder \n' },
    short: { 'mqtt-technician': 'short' },
  });
  const own = technicianLogin(join(dir, 'data'), {});
  t.equal(own.file, join(dir, 'data/mqtt-technician'));
  t.equal(statSync(own.file).mode & 0o777, 0o600);
  t.same(technicianLogin(join(dir, 'data'), {}).login, own.login, 'kept');
  const fromCreds = loadBrokerUsers(join(dir, 'data'), { CREDENTIALS_DIRECTORY: join(dir, 'creds') });
  t.same(fromCreds.technician, { username: 'technician', password: 'from-the-credentials-folder' });
  t.equal(fromCreds.technicianFile, join(dir, 'creds/mqtt-technician'));
  t.throws(() => technicianLogin(join(dir, 'data'), { CREDENTIALS_DIRECTORY: join(dir, 'short') }), {
    code: 'config_invalid',
    message: /at least 12 characters, got 5/,
  });
  t.notOk(
    readFileSync(join(dir, 'creds/mqtt-technician'), 'utf8').includes('\0'),
    'the credentials folder is only read',
  );
});
