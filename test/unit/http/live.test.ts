/**
 * `/live/<camera id>` over a real socket: a real WebSocket client, the server's checks in the
 * order of every other path (Host, token or cookie, path), the Origin rule, and the relay behind.
 */
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { HttpServer, type HttpServerDeps } from '../../../agent/http/server.js';
import { Fmp4Splitter } from '../../../agent/live/fmp4.js';
import { LiveRelays } from '../../../agent/live/relay.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { liveFmp4 } from '../../helpers/media.js';
import { FakeCatalog, FakePipeline, runningCamera, testConfig } from './fakes.js';

const stream = await liveFmp4(2, 5);
const pieces = new Fmp4Splitter().push(stream);

async function setup(t: Test, over: Partial<HttpServerDeps> & { listen?: string; withLive?: boolean } = {}) {
  const dir = t.testdir({ hls: { cam1: {} }, archive: {} });
  const config = testConfig({
    archiveDir: `${dir}/archive`,
    hlsDir: `${dir}/hls`,
    cameras: ['cam1', 'cam2'],
    listen: over.listen,
  });
  const relays = new LiveRelays(silentLogger());
  const pipe = new PassThrough();
  relays.forCamera('cam1').attach(pipe);
  const deps: HttpServerDeps = {
    config: () => config,
    log: silentLogger(),
    pipeline: new FakePipeline([runningCamera('cam1'), runningCamera('cam2')], `${dir}/hls`),
    archives: new FakeCatalog(`${dir}/archive`),
    health: { snapshot: async () => ({}) },
    status: async () => ({}),
    token: null,
    ...(over.withLive === false ? {} : { live: relays }),
    ...over,
  };
  const server = new HttpServer(deps);
  await server.start();
  t.teardown(() => server.stop());
  return { port: server.port as number, pipe, relays };
}

/** A WebSocket and every message it received, collected from the start (they can come with the handshake). */
type Viewer = WebSocket & { received: Buffer[] };

/** Opens a WebSocket; resolves with the open socket, or the HTTP status it was refused with. */
function connect(port: number, path: string, headers: Record<string, string> = {}): Promise<Viewer | number> {
  return new Promise((resolve, reject) => {
    const ws = Object.assign(new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers }), { received: [] as Buffer[] });
    ws.on('message', (data: Buffer) => ws.received.push(data));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', reject);
  });
}

/** The first `count` messages a socket receives. */
async function messages(ws: Viewer, count: number): Promise<Buffer[]> {
  const deadline = Date.now() + 10_000;
  while (ws.received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return ws.received.slice(0, count);
}

t.test('a viewer gets the init segment, then fragments, as binary messages', async (t) => {
  const { port, pipe } = await setup(t);
  pipe.write(Buffer.concat(pieces.slice(0, 8).map((p) => p.data))); // init + fragments 0..6
  await new Promise((r) => setImmediate(r));
  const ws = await connect(port, '/live/cam1');
  if (typeof ws === 'number') return t.fail(`refused with ${ws}`);
  t.teardown(() => ws.terminate());
  // (The late joiner's group is 5 and 6; then 7 comes live.)
  pipe.write(pieces[8]!.data);
  const [first, ...rest] = await messages(ws, 4);
  t.equal(first!.toString('latin1', 4, 8), 'ftyp', 'the init segment first');
  t.same(rest, [pieces[6]!.data, pieces[7]!.data, pieces[8]!.data], 'then the group from its keyframe, then live');
});

t.test('refusals: the same rules as every other path', async (t) => {
  const { port } = await setup(t);
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['no camera', '/live/', {}, 400],
    ['two segments', '/live/cam1/x', {}, 400],
    ['a NUL byte', '/live/cam1%00', {}, 400],
    ['an encoded slash', '/live/cam1%2f..', {}, 400],
    ['a camera id with a dot', '/live/cam.1', {}, 400],
    ['an unknown camera', '/live/nosuch', {}, 404],
    ['not the live path', '/hls/cam1/index.m3u8', {}, 404],
    ['a Host that is not this agent (DNS rebinding)', '/live/cam1', { Host: 'evil.example' }, 421],
    ["another site's page (WebSockets have no CORS)", '/live/cam1', { Origin: 'http://evil.example' }, 403],
    ['a page of another port of this machine', '/live/cam1', { Origin: `http://127.0.0.1:${port + 1}` }, 403],
  ];
  for (const [name, path, headers, status] of cases) t.equal(await connect(port, path, headers), status, name);
  const own = await connect(port, '/live/cam1', { Origin: `http://127.0.0.1:${port}` });
  t.type(own, WebSocket, "the agent's own page is let in");
  if (typeof own !== 'number') own.terminate();
});

t.test('a plain GET of the live path says to upgrade', async (t) => {
  const { port } = await setup(t);
  const res = await fetch(`http://127.0.0.1:${port}/live/cam1`);
  t.equal(res.status, 426);
  t.equal(res.headers.get('upgrade'), 'websocket');
  t.equal((await fetch(`http://127.0.0.1:${port}/live/nosuch`)).status, 404);
  t.equal((await fetch(`http://127.0.0.1:${port}/live/a/b`)).status, 400);
});

t.test('with the live view off, every camera is 404 and the page keeps HLS', async (t) => {
  const { port } = await setup(t, { withLive: false });
  t.equal(await connect(port, '/live/cam1'), 404);
  t.equal((await fetch(`http://127.0.0.1:${port}/live/cam1`)).status, 404);
});

t.test('off loopback the token or the session cookie is needed, as for HLS', async (t) => {
  const { port } = await setup(t, { listen: '0.0.0.0:0', token: 's3cret-token' });
  t.equal(await connect(port, '/live/cam1'), 401, 'no token');
  t.equal(await connect(port, '/live/cam1', { Authorization: 'Bearer wrong' }), 401, 'a wrong token');
  t.equal(await connect(port, '/live/nosuch'), 401, 'no camera names to those without a token');
  const bearer = await connect(port, '/live/cam1', { Authorization: 'Bearer s3cret-token' });
  t.type(bearer, WebSocket, 'the bearer token');
  if (typeof bearer !== 'number') bearer.terminate();
  const login = await fetch(`http://127.0.0.1:${port}/api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: 's3cret-token' }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  t.match(cookie, /=/);
  const session = await connect(port, '/live/cam1', { Cookie: cookie, Origin: `http://127.0.0.1:${port}` });
  t.type(session, WebSocket, "the page's session cookie");
  if (typeof session !== 'number') session.terminate();
});

t.test('a viewer that stops reading is dropped, not buffered for', async (t) => {
  const { port, pipe, relays } = await setup(t);
  pipe.write(Buffer.concat(pieces.slice(0, 2).map((p) => p.data)));
  const ws = await connect(port, '/live/cam1');
  if (typeof ws === 'number') return t.fail(`refused with ${ws}`);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  // The client's socket stops reading: the kernel buffers fill, then the server's queue grows.
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const big = Buffer.concat(pieces.slice(1, 6).map((p) => p.data));
  const started = Date.now();
  while (relays.forCamera('cam1').clientCount > 0 && Date.now() - started < 20_000) {
    // Fragments of a fresh group, fast: far more than a socket's buffers hold.
    for (let i = 0; i < 20; i += 1) pipe.write(big);
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(relays.forCamera('cam1').clientCount, 0, 'dropped by the relay');
  (ws as unknown as { _socket: { resume(): void } })._socket.resume();
  t.ok([1013, 1006].includes(await closed), 'and its socket closed');
});
