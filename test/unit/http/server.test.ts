import t, { type Test } from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpServer, type HttpServerDeps } from '../../../agent/http/server.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { FakeCatalog, CarelessCatalog, FakePipeline, runningCamera, testConfig } from './fakes.js';

const ARCHIVE = 'archive_20261101T100000Z.mp4';
const OLDER = 'archive_20261101T095000Z.mp4';
const archiveBytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  json: () => any;
}

/** A request with the path sent exactly as given (no normalisation of `..`). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          text: body.toString(),
          json: () => JSON.parse(body.toString()),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes on a socket, for requests Node's client refuses to send; returns the status line. */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let out = '';
    socket.on('data', (c) => (out += c.toString()));
    socket.on('end', () => resolve(out.split('\r\n')[0] ?? ''));
    socket.on('close', () => resolve(out.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

async function setup(t: Test, over: Partial<HttpServerDeps> & { listen?: string } = {}) {
  const dir = t.testdir({
    archive: { cam1: { '2026-11-01': { [ARCHIVE]: archiveBytes, [OLDER]: 'older', 'notes.txt': 'hi' } } },
    hls: { cam1: { 'index.m3u8': '#EXTM3U\n#EXT-X-VERSION:3\n', 'seg12.ts': 'TSDATA', 'init.mp4': 'INIT' } },
    'secret.txt': 'top secret',
  });
  const archiveDir = join(dir, 'archive');
  const hlsDir = join(dir, 'hls');
  await symlink('/etc/passwd', join(archiveDir, 'cam1', '2026-11-01', 'passwd.mp4'));
  await symlink('/etc', join(hlsDir, 'cam1', 'etc'));
  await symlink(join(dir, 'secret.txt'), join(hlsDir, 'cam1', 'secret.ts'));
  await symlink(join(archiveDir, 'cam1', '2026-11-01', ARCHIVE), join(archiveDir, 'cam1', '2026-11-01', 'latest.mp4'));
  const config = testConfig({ archiveDir, hlsDir, listen: over.listen });
  const pipeline = new FakePipeline([runningCamera('cam1')], hlsDir);
  const catalog = new FakeCatalog(archiveDir, async (file) =>
    file.endsWith(ARCHIVE) ? { summary: 'a person walks by', events: [] } : null,
  );
  const deps: HttpServerDeps = {
    config: () => config,
    log: silentLogger(),
    pipeline,
    archives: catalog,
    health: {
      snapshot: async () => ({
        disk: { path: archiveDir, totalBytes: 100, freeBytes: 50, freePercent: 50 },
        temperatures: [],
      }),
    },
    status: async () => ({ device: 'test-board', version: '0.1.0', uptime: 12, mqtt: { connected: true } }),
    token: null,
    ...over,
  };
  const server = new HttpServer(deps);
  await server.start();
  t.teardown(() => server.stop());
  return { server, port: server.port as number, dir, pipeline, catalog, deps };
}

t.test('status page, assets and hls.js are served', async (t) => {
  const { port } = await setup(t);
  const page = await get(port, '/');
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  t.match(page.text, /<video|app\.js/);
  for (const [path, type] of [
    ['/static/app.js', /javascript/],
    ['/static/style.css', /text\/css/],
    ['/static/hls.min.js', /javascript/],
  ] as const) {
    const r = await get(port, path);
    t.equal(r.status, 200, path);
    t.match(r.headers['content-type'], type, path);
  }
  t.equal((await get(port, '/static/hls.js')).status, 404, 'only the minified bundle');
  t.equal((await get(port, '/static/../package.json')).status, 404);
  t.equal((await get(port, '/nope')).status, 404);
  t.equal((await get(port, '/favicon.ico')).status, 204);
  const head = await get(port, '/', {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  const post = await get(port, '/api/status', {}, 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
});

t.test('hls: playlist not cached, segments cacheable, right content types', async (t) => {
  const { port } = await setup(t);
  const playlist = await get(port, '/hls/cam1/index.m3u8');
  t.equal(playlist.status, 200);
  t.equal(playlist.headers['content-type'], 'application/vnd.apple.mpegurl');
  t.match(playlist.headers['cache-control'], /no-cache/);
  t.equal(playlist.text, '#EXTM3U\n#EXT-X-VERSION:3\n');
  const seg = await get(port, '/hls/cam1/seg12.ts');
  t.equal(seg.status, 200);
  t.equal(seg.headers['content-type'], 'video/mp2t');
  t.match(seg.headers['cache-control'], /max-age=\d+/);
  t.notMatch(seg.headers['cache-control'], /no-cache/);
  t.equal((await get(port, '/hls/cam1/init.mp4')).headers['content-type'], 'video/mp4');
  t.equal((await get(port, '/hls/cam2/index.m3u8')).status, 404, 'unknown camera');
  t.equal((await get(port, '/hls/cam1/missing.ts')).status, 404);
  t.equal((await get(port, '/hls/cam1')).status, 400);
});

const traversal: Array<[string, string]> = [
  ['plain ..', '/hls/cam1/../../secret.txt'],
  ['.. in the camera', '/hls/../secret.txt'],
  ['encoded %2e%2e', '/hls/cam1/%2e%2e/%2e%2e/secret.txt'],
  ['upper-case %2E%2E', '/archives/cam1/%2E%2E/%2E%2E/secret.txt'],
  ['encoded slash %2F', '/hls/cam1/..%2F..%2Fsecret.txt'],
  ['encoded slash alone', '/archives/cam1%2F2026-11-01%2Fx.mp4'],
  ['backslash', '/hls/cam1/..\\..\\secret.txt'],
  ['encoded backslash', '/hls/cam1/..%5c..%5csecret.txt'],
  ['encoded NUL', '/hls/cam1/index.m3u8%00.ts'],
  ['absolute path', '/archives//etc/passwd'],
  ['absolute path under hls', '/hls//etc/passwd'],
  ['double-encoded', '/hls/cam1/%252e%252e/secret.txt'],
  ['archive .. through the date', '/archives/cam1/../../secret.txt'],
  ['hidden file', '/hls/cam1/.index.m3u8'],
  ['symlink to /etc/passwd inside the archive tree', '/archives/cam1/2026-11-01/passwd.mp4'],
  ['symlink to /etc inside the hls dir', '/hls/cam1/etc/passwd'],
  ['symlink to a file outside hls.dir', '/hls/cam1/secret.ts'],
];

t.test('nothing outside archive.dir or hls.dir is ever served', async (t) => {
  const { port } = await setup(t);
  for (const [name, path] of traversal) {
    const r = await get(port, path);
    t.ok(r.status === 400 || r.status === 404, `${name}: ${path} -> ${r.status}`);
    t.notMatch(r.text, /root:|top secret/, `${name}: no leaked content`);
  }
  t.match(await raw(port, 'GET /hls/cam1/index.m3u8\0 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/, 'raw NUL');
});

t.test('even a catalog that resolves anything cannot serve outside archive.dir', async (t) => {
  const dir = t.testdir();
  const { port } = await setup(t, { archives: new CarelessCatalog(dir, '/etc/passwd') });
  const r = await get(port, `/archives/cam1/2026-11-01/${ARCHIVE}`);
  t.equal(r.status, 404, 'the realpath check against archive.dir stops it');
  t.notMatch(r.text, /root:/);
});

t.test('archives: download, symlink inside the tree, ranges', async (t) => {
  const { port } = await setup(t);
  const base = `/archives/cam1/2026-11-01/${ARCHIVE}`;
  const full = await get(port, base);
  t.equal(full.status, 200);
  t.equal(full.headers['content-type'], 'video/mp4');
  t.equal(full.headers['accept-ranges'], 'bytes');
  t.equal(full.headers['content-length'], '1000');
  t.same(full.body, archiveBytes);
  t.equal((await get(port, '/archives/cam1/2026-11-01/latest.mp4')).status, 200, 'a symlink that stays inside is fine');

  const first = await get(port, base, { Range: 'bytes=0-99' });
  t.equal(first.status, 206);
  t.equal(first.headers['content-range'], 'bytes 0-99/1000');
  t.equal(first.headers['content-length'], '100');
  t.same(first.body, archiveBytes.subarray(0, 100));

  const open = await get(port, base, { Range: 'bytes=990-' });
  t.equal(open.status, 206);
  t.equal(open.headers['content-range'], 'bytes 990-999/1000');
  t.same(open.body, archiveBytes.subarray(990));

  const suffix = await get(port, base, { Range: 'bytes=-10' });
  t.equal(suffix.status, 206);
  t.equal(suffix.headers['content-range'], 'bytes 990-999/1000');
  t.same(suffix.body, archiveBytes.subarray(990));

  const clipped = await get(port, base, { Range: 'bytes=500-5000' });
  t.equal(clipped.headers['content-range'], 'bytes 500-999/1000');

  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0', 'bytes=20-10']) {
    const r = await get(port, base, { Range: range });
    t.equal(r.status, 416, range);
    t.equal(r.headers['content-range'], 'bytes */1000', range);
  }
  const multi = await get(port, base, { Range: 'bytes=0-1,5-6' });
  t.equal(multi.status, 200, 'multi-range answered with the whole file');
  const head = await get(port, base, { Range: 'bytes=0-9' }, 'HEAD');
  t.equal(head.status, 206);
  t.equal(head.body.length, 0);
  t.equal((await get(port, '/archives/cam1/2026-11-01/missing.mp4')).status, 404);
  t.equal((await get(port, '/archives/cam1/yesterday/x.mp4')).status, 400);
});

t.test('/api/archives lists newest first with url and analysis; validates the query', async (t) => {
  const { port, catalog } = await setup(t);
  const r = await get(port, '/api/archives?camera=cam1&limit=10');
  t.equal(r.status, 200);
  const list = r.json();
  t.same(
    list.map((a: any) => a.file),
    [`cam1/2026-11-01/${ARCHIVE}`, `cam1/2026-11-01/${OLDER}`],
  );
  t.equal(list[0].url, `/archives/cam1/2026-11-01/${ARCHIVE}`);
  t.same(list[0].analysis, { summary: 'a person walks by', events: [] });
  t.equal(list[1].analysis, null);
  t.same(catalog.lastQuery, { camera: 'cam1', limit: 10 });
  await get(port, '/api/archives');
  t.same(catalog.lastQuery, { limit: 50 }, 'default limit, no camera filter');
  for (const [query, pattern] of [
    ['limit=0', /limit must be an integer from 1 to 1000/],
    ['limit=1001', /limit/],
    ['limit=abc', /got "abc"/],
    ['limit=1.5', /limit/],
    ['limit=-1', /limit/],
    ['camera=../etc', /camera must match/],
    ['camera=a%2Fb', /camera/],
    ['camera=cam1&camera=cam2', /camera may be given once/],
  ] as const) {
    const bad = await get(port, `/api/archives?${query}`);
    t.equal(bad.status, 400, query);
    t.equal(bad.json().error.code, 'bad_request', query);
    t.match(bad.json().error.message, pattern, query);
  }
});

t.test('/api/status merges status, cameras, disk and health; survives a failing health read', async (t) => {
  const { port, pipeline, deps } = await setup(t);
  pipeline.cameras = [runningCamera('cam1', { fps: 14.9, restarts: 2 })];
  const s = (await get(port, '/api/status')).json();
  t.match(s, { device: 'test-board', version: '0.1.0', uptime: 12, mqtt: { connected: true } });
  t.match(s.cameras, [{ camera: 'cam1', state: 'running', encoder: 'libx264', fps: 14.9, restarts: 2 }]);
  t.equal(s.disk.freePercent, 50);
  t.ok(s.health);
  deps.health.snapshot = async () => {
    throw new Error('boom');
  };
  const s2 = await get(port, '/api/status');
  t.equal(s2.status, 200);
  t.equal(s2.json().health, null);
  deps.status = async () => {
    throw new Error('status broke');
  };
  const s3 = await get(port, '/api/status');
  t.equal(s3.status, 500);
  t.equal(s3.json().error.code, 'internal');
});

t.test('/healthz: 200 when every pipeline has a fresh frame, 503 with reasons otherwise', async (t) => {
  const { port, pipeline } = await setup(t);
  t.equal((await get(port, '/healthz')).status, 200);
  const cases: Array<[string, Parameters<typeof runningCamera>[1], RegExp]> = [
    [
      'restarting',
      { state: 'restarting', lastError: 'ffmpeg exited 1' },
      /cam1: pipeline restarting \(ffmpeg exited 1\)/,
    ],
    ['stale frame', { lastFrameAgeSeconds: 9.5 }, /cam1: last frame 9\.5 s ago/],
    ['no frame yet', { lastFrameAgeSeconds: null }, /cam1: no frame yet/],
    ['failed', { state: 'failed' }, /pipeline failed/],
  ];
  for (const [name, over, reason] of cases) {
    pipeline.cameras = [runningCamera('cam1', over), runningCamera('cam2')];
    const r = await get(port, '/healthz');
    t.equal(r.status, 503, name);
    t.equal(r.json().ok, false);
    t.match(r.json().reasons, [reason], name);
    t.equal(r.json().reasons.length, 1, 'only the sick camera is named');
  }
});

t.test("/healthz names each camera's state; ?camera= answers for one", async (t) => {
  const { port, pipeline } = await setup(t);
  pipeline.cameras = [
    runningCamera('cam1', { state: 'restarting', lastError: 'connection refused' }),
    runningCamera('cam2'),
  ];
  const all = await get(port, '/healthz');
  t.equal(all.status, 503);
  t.match(all.json().cameras, [
    { camera: 'cam1', state: 'restarting', ok: false, lastError: 'connection refused' },
    { camera: 'cam2', state: 'running', ok: true },
  ]);
  const healthy = await get(port, '/healthz?camera=cam2');
  t.equal(healthy.status, 200, 'the live camera answers 200 while the other is down');
  t.same(
    healthy.json().cameras.map((c: { camera: string }) => c.camera),
    ['cam2'],
  );
  const down = await get(port, '/healthz?camera=cam1');
  t.equal(down.status, 503);
  t.match(down.json().reasons, [/cam1: pipeline restarting/]);
  const unknown = await get(port, '/healthz?camera=nope');
  t.equal(unknown.status, 404);
  t.equal(unknown.json().error.code, 'not_found');
});

t.test('bound off loopback: a token is required and checked', async (t) => {
  const noToken = new HttpServer({
    ...(await setup(t)).deps,
    config: () => testConfig({ archiveDir: '/x', hlsDir: '/y', listen: '0.0.0.0:0' }),
    token: null,
  });
  await t.rejects(noToken.start(), { code: 'config_invalid', message: /http.tokenFile is required/ });

  const { port } = await setup(t, { listen: '0.0.0.0:0', token: 's3cret-token' });
  // The page's shell and assets hold no data: they load without the token so the page can ask for it.
  t.equal((await get(port, '/')).status, 200, 'page shell without token');
  t.equal((await get(port, '/static/app.js')).status, 200, 'page script without token');
  for (const path of [
    '/healthz',
    '/hls/cam1/index.m3u8',
    '/api/status',
    '/api/archives',
    `/archives/cam1/2026-11-01/${ARCHIVE}`,
  ]) {
    const r = await get(port, path);
    t.equal(r.status, 401, `no header ${path}`);
    t.equal(r.headers['www-authenticate'], 'Bearer');
  }
  // Three wrong tries (under the limit of five a minute).
  for (const [name, headers] of [
    ['wrong token', { Authorization: 'Bearer wrong' }],
    ['token prefix', { Authorization: 'Bearer s3cret' }],
    ['basic auth', { Authorization: 'Basic czNjcmV0LXRva2Vu' }],
  ] as const) {
    t.equal((await get(port, '/api/status', headers)).status, 401, name);
  }
  const ok = await get(port, '/healthz', { Authorization: 'Bearer s3cret-token' });
  t.equal(ok.status, 200);
  t.equal((await get(port, '/hls/cam1/index.m3u8', { Authorization: 'bearer s3cret-token' })).status, 200);
});

t.test('loopback needs no token', async (t) => {
  const { port } = await setup(t, { token: 'ignored-on-loopback' });
  t.equal((await get(port, '/healthz')).status, 200);
});

t.test('oversized requests are refused and the server keeps serving', async (t) => {
  const { port } = await setup(t);
  const longUrl = await get(port, '/hls/cam1/' + 'a'.repeat(6000));
  t.equal(longUrl.status, 414);
  t.match(await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(40000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  t.match(await raw(port, `GET /${'c'.repeat(40000)} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 (414|431)/);
  t.match(await raw(port, 'NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.equal((await get(port, '/healthz')).status, 200, 'still serving');
});

t.test('stop closes keep-alive connections and start fails on a busy port', async (t) => {
  const { server, port, deps } = await setup(t);
  const clash = new HttpServer({
    ...deps,
    config: () => ({
      ...deps.config(),
      http: { listen: `127.0.0.1:${port}`, tokenFile: null, allowedHosts: [], liveView: true },
    }),
  });
  await t.rejects(clash.start(), { code: 'EADDRINUSE' });
  await server.stop();
  await t.rejects(get(port, '/healthz'));
  await server.stop();
});
