/** The doctor's embedded-broker lines: the technician login tried, and how to use it, never the secret. */
import { join } from 'node:path';
import t from 'tap';
import type { AgentConfig } from '../../../agent/config/types.js';
import { checkBroker } from '../../../agent/doctor/checks/broker.js';
import { checkBrokerClients, technicianFiles } from '../../../agent/doctor/checks/embeddedBroker.js';
import type { DoctorContext } from '../../../agent/doctor/types.js';
import type { Credentials } from '../../../agent/config/load.js';
import { agentConfig } from '../../helpers/config.js';

const SECRET = 'technician-secret-123456';

function ctx(dir: string, over: Partial<DoctorContext> = {}): DoctorContext {
  const config = agentConfig({ device: { id: 'gate-01' }, dataDir: join(dir, 'data') });
  return {
    config,
    credentials: { mqttPassword: null, geminiApiKey: null, httpToken: null, commandKey: null },
    credentialsError: null,
    configFile: null,
    configProblems: [],
    run: async () => {
      throw new Error('no');
    },
    hasCommand: () => false,
    root: '/nonexistent',
    statfs: async () => ({ freeBytes: 1, totalBytes: 1 }),
    fetch: globalThis.fetch,
    mqttConnect: async () => {},
    vcgencmd: async () => null,
    timeoutMs: 500,
    ...over,
  };
}

t.test('no password yet: the agent has not run', async (t) => {
  const dir = t.testdir({ data: {} });
  const r = await checkBroker(ctx(dir));
  t.match(r, { status: 'ok', detail: /^embedded broker .*no technician password yet .*data\/mqtt-technician/ });
  t.same(await checkBrokerClients(ctx(dir)), []);
});

t.test("logs in as technician on 127.0.0.1:1883 with the file's password", async (t) => {
  const dir = t.testdir({ data: { 'mqtt-technician': `${SECRET}\n` } });
  const seen: Array<{ config: AgentConfig; credentials: Credentials | null }> = [];
  const r = await checkBroker(
    ctx(dir, { mqttConnect: async (config, credentials) => void seen.push({ config, credentials }) }),
  );
  t.match(r, {
    status: 'ok',
    detail: /^embedded broker .* accepted the technician login \(password in .*data\/mqtt-technician\)/,
  });
  t.match(seen[0], {
    config: { mqtt: { url: 'mqtt://127.0.0.1:1883', username: 'technician' } },
    credentials: { mqttPassword: SECRET },
  });
  t.notMatch(r.detail, SECRET);
});

t.test('agent not running: ok, says so; refused: fail with the fix', async (t) => {
  const dir = t.testdir({ data: { 'mqtt-technician': SECRET } });
  const down = await checkBroker(
    ctx(dir, {
      mqttConnect: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1883');
      },
    }),
  );
  t.match(down, { status: 'ok', detail: /^embedded broker .*not listening now/ });
  const refused = await checkBroker(
    ctx(dir, {
      mqttConnect: async () => {
        throw new Error('Connection refused: Bad username or password');
      },
    }),
  );
  t.match(refused, { status: 'fail', detail: /refused the technician login/, fix: /restart the agent/ });
  t.notMatch(refused.detail, SECRET);
});

t.test('the credentials folder comes first, as in the agent', async (t) => {
  const dir = t.testdir({ data: { 'mqtt-technician': 'old-one-in-datadir' }, creds: { 'mqtt-technician': SECRET } });
  const c = ctx(dir, { credentialsDir: join(dir, 'creds') });
  t.same(technicianFiles(c), [join(dir, 'creds/mqtt-technician'), join(dir, 'data/mqtt-technician')]);
  const tried: string[] = [];
  // The agent still runs on the dataDir password (the installer was not re-run): the doctor finds it.
  const r = await checkBroker({
    ...c,
    mqttConnect: async (_config, credentials) => {
      tried.push(credentials!.mqttPassword!);
      if (credentials!.mqttPassword === SECRET) throw new Error('Connection refused: Bad username or password');
    },
  });
  t.same(tried, [SECRET, 'old-one-in-datadir']);
  t.match(r, { status: 'ok', detail: /data\/mqtt-technician/ });
});

t.test('broker clients: the commands read the password from its file, never print it', async (t) => {
  const dir = t.testdir({ data: { 'mqtt-technician': SECRET } });
  const [line] = await checkBrokerClients(ctx(dir));
  t.match(line, { name: 'broker clients', status: 'ok' });
  t.notMatch(line!.detail, SECRET);
  t.match(
    line!.detail,
    `mosquitto_sub -h 127.0.0.1 -p 1883 -u technician -P "$(sudo cat '${join(dir, 'data/mqtt-technician')}')" -t 'edge/gate-01/#' -v`,
  );
  t.match(
    line!.detail,
    /mosquitto_rr -V 311 .* -t 'edge\/gate-01\/cmd\/ping' -e 'replies\/gate-01\/technician' -m '\{"replyTo":"replies\/gate-01\/technician","id":"doctor"\}'/,
  );
  const outside = ctx(dir);
  outside.config.mqtt.url = 'mqtts://broker.example:8883';
  t.same(await checkBrokerClients(outside), [], 'nothing for an outside broker');
});
