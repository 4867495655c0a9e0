/**
 * Issue 15, reproduced on a real agent: a file: source pointed outside the media folder put
 * that file on the live stream, and `snapshot` returned it. Now such a camera never starts
 * (also through a symbolic link planted in the media folder) and snapshot has nothing to give;
 * a clip inside `<dataDir>/media/` still runs.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../agent/agent.js';
import { silentLogger } from '../../agent/util/logger.js';
import { testConfig } from '../unit/http/fakes.js';

let lastWhy = '';
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${lastWhy}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('file: sources outside <dataDir>/media never reach FFmpeg or snapshot', async (t) => {
  const dir = t.testdir();
  const data = join(dir, 'data');
  mkdirSync(join(data, 'media'), { recursive: true });
  const clip = (out: string) =>
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '30', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-f', 'mpegts', out]);
  clip(join(data, 'media', 'clip.ts'));
  clip(join(dir, 'private.ts'));
  symlinkSync(join(dir, 'private.ts'), join(data, 'media', 'planted.ts'));

  const config = testConfig({ archiveDir: join(dir, 'archive'), hlsDir: join(dir, 'hls') });
  config.dataDir = data;
  config.mqtt.url = 'mqtt://127.0.0.1:1';
  // Short archives: -re paces a file by its timestamps, which start at the offset into the archive
  // window, so a 600-s window can hold the first frame back for minutes (seen on the base code too).
  config.archive.segmentSeconds = 4;
  const camera = (id: string, source: string) => ({ id, source, width: 160, height: 120, fps: 10 });
  config.cameras = [
    camera('inside', `file://${data}/media/clip.ts`),
    camera('outside', `file://${dir}/private.ts`),
    camera('planted', `file://${data}/media/planted.ts`),
  ];
  const agent = new Agent(config, null, silentLogger());
  await agent.start();
  t.teardown(() => agent.stop());
  const stats = (id: string) => agent.pipeline.stats().find((c) => c.camera === id);

  await waitUntil(() => stats('inside')?.state === 'running' && stats('inside')?.lastFrameAgeSeconds !== null, 30_000, 'the clip inside runs');
  await waitUntil(async () => (await agent.pipeline.snapshot('inside').catch((e: Error) => void (lastWhy = `${e.message}; ${JSON.stringify(stats('inside'))}`))) !== undefined, 20_000, 'a snapshot of the clip');
  t.pass('a clip in the media folder runs and gives a snapshot');
  for (const id of ['outside', 'planted']) {
    await waitUntil(() => /media folder/.test(stats(id)?.lastError ?? ''), 20_000, `${id} is refused`);
    t.not(stats(id)?.state, 'running', `${id}: never running`);
    t.match(stats(id)?.lastError, /outside .*\/media\/: file: sources must lie in dataDir's media folder/, `${id}: says why`);
    await t.rejects(agent.pipeline.snapshot(id), `${id}: no snapshot`);
  }
});
