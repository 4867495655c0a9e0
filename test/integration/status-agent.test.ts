/** `edge-agent status` and `/healthz` against the real running agent. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { AgentProcess, ROOT, testConfig } from '../helpers/agentProcess.js';
import { waitFor } from '../helpers/waitFor.js';
import { freePort } from '../helpers/mosquitto.js';
import { agentCliArgs } from '../helpers/cli.js';

const run = promisify(execFile);

t.test('status summarises the running agent; healthz follows the pipeline', async (t) => {
  const dir = t.testdir();
  const port = await freePort();
  const agent = AgentProcess.start(dir, testConfig(dir, { http: { listen: `127.0.0.1:${port}` } }));
  t.teardown(() => agent.stop());
  await waitFor(
    'healthz 200',
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200,
    30_000,
  );
  const { stdout } = await run(
    process.execPath,
    [...agentCliArgs(), 'status', '--config', path.join(dir, 'config.json')],
    { cwd: ROOT },
  );
  t.match(stdout, /test-device/, 'names the device');
  t.match(stdout, /cam1/, 'lists the camera');
  t.match(stdout, /running/, 'says it is running');
  t.match(stdout, /libx264/, 'names the encoder');
  await agent.stop();
  const after = await run(process.execPath, [...agentCliArgs(), 'status', '--config', path.join(dir, 'config.json')], {
    cwd: ROOT,
  }).then(
    () => 0,
    (error: { code?: number }) => error.code ?? -1,
  );
  t.equal(after, 1, 'exit 1 once the agent is gone');
});
