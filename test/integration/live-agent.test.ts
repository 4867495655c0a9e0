/**
 * The live view through a real agent process: the pipeline's fd 4 reaches the relay, and
 * `/live/cam1` serves the init segment, then fragments starting on a keyframe; with
 * `http.liveView` false FFmpeg has no third output and the path is 404.
 */
import t from 'tap';
import WebSocket from 'ws';
import { startsWithKeyframe } from '../../agent/live/fmp4.js';
import { AgentProcess, testConfig } from '../helpers/agentProcess.js';
import { hasFfmpeg } from '../helpers/browser.js';

const port = async (agent: AgentProcess) => Number((await agent.waitLog('http listening'))[0]!.port);

/** The first `count` messages of the live view, or the status it was refused with. */
function firstMessages(url: string, count: number): Promise<Buffer[] | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const out: Buffer[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`only ${out.length} messages in 30 s`));
    }, 30_000);
    ws.on('message', (data: Buffer) => {
      out.push(data);
      if (out.length < count) return;
      clearTimeout(timer);
      ws.terminate();
      resolve(out);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

t.test('a real agent serves its camera at /live/cam1', { skip: hasFfmpeg() ? false : 'ffmpeg missing' }, async (t) => {
  const dir = t.testdir();
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  const p = await port(agent);
  await agent.waitEvent('pipeline.started');
  const got = await firstMessages(`ws://127.0.0.1:${p}/live/cam1`, 5);
  if (typeof got === 'number') return t.fail(`refused with ${got}`);
  const [init, first, ...rest] = got;
  t.equal(init!.toString('latin1', 4, 8), 'ftyp', 'the init segment first');
  t.match(init!.toString('latin1'), /avcC/, 'with the H.264 decoder configuration');
  t.equal(first!.toString('latin1', 4, 8), 'moof', 'then a fragment');
  t.ok(startsWithKeyframe(first!), 'that starts on a keyframe');
  t.ok(
    rest.every((m) => m.toString('latin1', 4, 8) === 'moof'),
    'and more fragments',
  );
  t.equal(agent.logs(/live view stream unreadable/).length, 0, 'the stream parsed cleanly');
});

t.test(
  'http.liveView false: no live output, the path is 404',
  { skip: hasFfmpeg() ? false : 'ffmpeg missing' },
  async (t) => {
    const dir = t.testdir();
    const agent = AgentProcess.start(dir, testConfig(dir, { http: { listen: '127.0.0.1:0', liveView: false } }));
    t.teardown(() => agent.stop());
    const p = await port(agent);
    await agent.waitEvent('pipeline.started');
    t.equal(await firstMessages(`ws://127.0.0.1:${p}/live/cam1`, 1), 404);
  },
);
