/**
 * Who may ask what, over real HTTP: security headers on every response, the Host check (DNS
 * rebinding), the token traded for a session cookie, CSRF on cookie requests that change state,
 * and the limit on failed token attempts.
 */
import t, { type Test } from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { HttpServer, type HttpServerDeps } from '../../../agent/http/server.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { FakeCatalog, FakePipeline, runningCamera, testConfig } from './fakes.js';

const TOKEN = 'correct-horse-battery-staple';
const ARCHIVE = 'cam1/2026-11-01/archive_20261101T100000Z.mp4';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

interface Req {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's own address (127.0.0.x), to stand for another client. */
  from?: string;
}

function send(port: number, path: string, opts: Req = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        ...(opts.from ? { localAddress: opts.from } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let out = '';
    socket.on('data', (c) => (out += c.toString()));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

const login = (port: number, token: string, extra: Req = {}) =>
  send(port, '/api/session', {
    method: 'POST',
    body: JSON.stringify({ token }),
    ...extra,
    headers: { 'Content-Type': 'application/json', ...extra.headers },
  });

/** The cookie pair (`name=value`) of a Set-Cookie reply. */
function cookieOf(reply: Reply): string {
  const set = reply.headers['set-cookie'];
  const first = Array.isArray(set) ? set[0] : set;
  return (first ?? '').split(';')[0] as string;
}

async function setup(t: Test, over: { listen?: string; token?: string | null; allowedHosts?: string[] } = {}) {
  const dir = t.testdir({
    archive: { cam1: { '2026-11-01': { 'archive_20261101T100000Z.mp4': 'MP4DATA' } } },
    hls: { cam1: { 'index.m3u8': '#EXTM3U\n', 'seg-1.ts': 'TS' } },
  });
  const config = testConfig({
    archiveDir: join(dir, 'archive'),
    hlsDir: join(dir, 'hls'),
    listen: over.listen ?? '0.0.0.0:0',
  });
  config.http.allowedHosts = over.allowedHosts ?? [];
  const clock = { now: Date.parse('2026-11-01T10:00:00Z') };
  const deps: HttpServerDeps = {
    config: () => config,
    log: silentLogger(),
    pipeline: new FakePipeline([runningCamera('cam1')], join(dir, 'hls')),
    archives: new FakeCatalog(join(dir, 'archive')),
    health: { snapshot: async () => ({}) },
    status: async () => ({ device: 'test-board' }),
    token: over.token === undefined ? TOKEN : over.token,
    now: () => clock.now,
    hostFacts: { hostname: () => 'Gate-01', addresses: () => ['127.0.0.1', '192.168.1.50', 'fe80::1%eth0'] },
  };
  const server = new HttpServer(deps);
  await server.start();
  t.teardown(() => server.stop());
  return { port: server.port as number, clock };
}

t.test('security headers on every response, whatever its status', async (t) => {
  const { port } = await setup(t);
  const cookie = cookieOf(await login(port, TOKEN));
  const cases: [string, Req, number][] = [
    ['/', {}, 200],
    ['/static/app.js', {}, 200],
    ['/api/status', {}, 401],
    ['/api/status', { headers: { Cookie: cookie } }, 200],
    ['/hls/cam1/index.m3u8', { headers: { Cookie: cookie } }, 200],
    [`/archives/${ARCHIVE}`, { headers: { Cookie: cookie } }, 200],
    ['/nope', { headers: { Cookie: cookie } }, 404],
    ['/api/status', { headers: { Host: 'evil.example' } }, 421],
    ['/api/session', {}, 200],
  ];
  for (const [path, req, status] of cases) {
    const r = await send(port, path, req);
    t.equal(r.status, status, `${path} ${status}`);
    const csp = String(r.headers['content-security-policy']);
    t.match(csp, /default-src 'self'/, `${path}: CSP`);
    t.match(csp, /frame-ancestors 'none'/, `${path}: frame-ancestors`);
    t.notMatch(csp, /unsafe-inline|unsafe-eval/, `${path}: no inline script or eval`);
    t.equal(r.headers['x-content-type-options'], 'nosniff', `${path}: nosniff`);
    t.equal(r.headers['referrer-policy'], 'no-referrer', `${path}: referrer`);
  }
  const broken = await raw(port, 'NONSENSE\r\n\r\n');
  t.match(broken, /^HTTP\/1\.1 400/);
  t.match(broken, /X-Content-Type-Options: nosniff/, 'even a request Node cannot parse');
});

t.test('the page has no inline script or style (the CSP would block them)', async (t) => {
  const { port } = await setup(t);
  const page = (await send(port, '/')).text;
  t.notMatch(page, /<script(?![^>]*\bsrc=)[^>]*>/i, 'every script is a file');
  t.notMatch(page, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handler');
});

t.test('Host: only names of this agent are answered (DNS rebinding)', async (t) => {
  const { port } = await setup(t, { listen: '127.0.0.1:0', token: null, allowedHosts: ['cam-gate.example.net'] });
  for (const host of [
    `127.0.0.1:${port}`,
    'localhost:8080',
    '[::1]:9',
    'gate-01',
    'GATE-01.local:80',
    '192.168.1.50',
    '[fe80::1]:8080',
    'cam-gate.example.net',
    'cam-gate.example.net.:443',
  ]) {
    t.equal((await send(port, '/api/status', { headers: { Host: host } })).status, 200, `Host ${host}`);
  }
  for (const host of [
    'evil.example',
    'evil.example:8080',
    'gate-01.evil.example',
    '127.0.0.1.nip.io',
    '0.0.0.0',
    'a b',
    'x@127.0.0.1',
  ]) {
    const r = await send(port, '/api/status', { headers: { Host: host } });
    t.equal(r.status, 421, `Host ${host}`);
    t.equal(r.json().error.code, 'bad_request');
    t.notMatch(r.text, /test-board/, 'nothing of the agent in it');
  }
  t.equal((await send(port, '/', { headers: { Host: 'evil.example' } })).status, 421, 'not even the page');
  t.match(await raw(port, 'GET /healthz HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200/, 'HTTP/1.0 without Host still works');
});

t.test('the page trades the token for an HttpOnly SameSite=Strict cookie used everywhere', async (t) => {
  const { port } = await setup(t);
  t.same((await send(port, '/api/session')).json(), { required: true, authenticated: false, csrf: null });
  const wrong = await login(port, 'nope');
  t.equal(wrong.status, 401);
  t.notOk(wrong.headers['set-cookie'], 'no cookie for a wrong token');

  const ok = await login(port, TOKEN);
  t.equal(ok.status, 200);
  const set = String(ok.headers['set-cookie']);
  t.match(
    set,
    /^edge_agent_session=v1\.\d+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/,
  );
  t.notMatch(set, /Secure/, 'plain http: no Secure (the browser would drop it)');
  t.notMatch(set, new RegExp(TOKEN), 'the cookie is not the token');
  const cookie = cookieOf(ok);
  const { csrf } = ok.json();
  t.match(csrf, /^[A-Za-z0-9_-]{43}$/);

  for (const path of [
    '/api/status',
    '/healthz',
    '/hls/cam1/index.m3u8',
    '/hls/cam1/seg-1.ts',
    '/api/archives',
    `/archives/${ARCHIVE}`,
  ]) {
    t.equal(
      (await send(port, path, { headers: { Cookie: `other=1; ${cookie}` } })).status,
      200,
      `cookie opens ${path}`,
    );
  }
  t.same((await send(port, '/api/session', { headers: { Cookie: cookie } })).json(), {
    required: true,
    authenticated: true,
    csrf,
  });
  t.equal(
    (await send(port, '/api/status', { headers: { Authorization: `Bearer ${TOKEN}` } })).status,
    200,
    'Bearer still works',
  );

  const forged = await send(port, '/api/status', {
    headers: { Cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) },
  });
  t.equal(forged.status, 401, 'a forged cookie');
  t.match(String(forged.headers['set-cookie']), /edge_agent_session=; .*Max-Age=0/, 'and is told to drop it');
  const otherAgent = await setup(t, { token: 'another-token' });
  t.equal(
    (await send(otherAgent.port, '/api/status', { headers: { Cookie: cookie } })).status,
    401,
    'a cookie of another token',
  );
});

t.test('the session cookie is Secure behind TLS (a proxy on this machine), and it expires', async (t) => {
  const { port, clock } = await setup(t);
  const proxied = await login(port, TOKEN, { headers: { 'X-Forwarded-Proto': 'https' } });
  t.match(String(proxied.headers['set-cookie']), /; Secure$/);
  const cookie = cookieOf(proxied);
  clock.now += 12 * 3600 * 1000 - 1000;
  t.equal((await send(port, '/api/status', { headers: { Cookie: cookie } })).status, 200, 'valid for 12 h');
  clock.now += 2000;
  t.equal((await send(port, '/api/status', { headers: { Cookie: cookie } })).status, 401, 'not after');
});

t.test('login refuses what a cross-site page could send', async (t) => {
  const { port } = await setup(t);
  const form = await send(port, '/api/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `token=${TOKEN}`,
  });
  t.equal(form.status, 415, 'a form post');
  const text = await send(port, '/api/session', {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ token: TOKEN }),
  });
  t.equal(text.status, 415, 'a text/plain post');
  t.equal((await login(port, TOKEN, { headers: { Origin: 'http://evil.example' } })).status, 403, 'another origin');
  t.equal(
    (await login(port, TOKEN, { headers: { Origin: `http://127.0.0.1:${port}` } })).status,
    200,
    'our own origin',
  );
  t.equal(
    (
      await send(port, '/api/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"token":',
      })
    ).status,
    400,
    'bad JSON',
  );
  t.equal(
    (
      await send(port, '/api/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: 'x'.repeat(5000),
      })
    ).status,
    413,
    'too big',
  );
  t.equal((await send(port, '/api/session', { method: 'PUT' })).status, 405);
});

t.test("CSRF: a cookie request that changes state needs its session's token; Bearer is exempt", async (t) => {
  const { port } = await setup(t);
  const ok = await login(port, TOKEN);
  const cookie = cookieOf(ok);
  const { csrf } = ok.json();
  const other = login(port, TOKEN).then((r) => r.json().csrf as string);

  const noHeader = await send(port, '/api/session', { method: 'DELETE', headers: { Cookie: cookie } });
  t.equal(noHeader.status, 403, 'logout without the CSRF header');
  t.equal(
    (await send(port, '/api/session', { method: 'DELETE', headers: { Cookie: cookie, 'X-CSRF-Token': await other } }))
      .status,
    403,
    "with another session's token",
  );
  t.equal((await send(port, '/api/status', { headers: { Cookie: cookie } })).status, 200, 'still signed in');
  t.equal(
    (await send(port, '/api/status', { method: 'POST', headers: { Cookie: cookie } })).status,
    403,
    'any cookie POST without it',
  );
  t.equal(
    (await send(port, '/api/status', { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } })).status,
    405,
    'with it: only the method is wrong',
  );
  t.equal(
    (await send(port, '/api/status', { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } })).status,
    405,
    'Bearer needs no CSRF token',
  );

  const out = await send(port, '/api/session', { method: 'DELETE', headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
  t.equal(out.status, 200);
  t.match(String(out.headers['set-cookie']), /Max-Age=0/);
  t.equal(
    (await send(port, '/api/status', { headers: { Cookie: cookie } })).status,
    401,
    'the logged-out cookie is dead',
  );
});

t.test('failed token attempts: 5 a minute per client address, then 429 with Retry-After', async (t) => {
  const { port, clock } = await setup(t);
  const signedIn = cookieOf(await login(port, TOKEN));
  for (let i = 0; i < 3; i++) t.equal((await login(port, `guess-${i}`)).status, 401);
  for (let i = 0; i < 2; i++)
    t.equal((await send(port, '/api/status', { headers: { Authorization: `Bearer guess-${i}` } })).status, 401);
  const limited = await login(port, TOKEN);
  t.equal(limited.status, 429, 'even the right token, once limited');
  t.equal(limited.headers['retry-after'], '60');
  t.equal(limited.json().error.code, 'rate_limited');
  t.equal(
    (await send(port, '/api/status', { headers: { Authorization: `Bearer ${TOKEN}` } })).status,
    429,
    'Bearer too',
  );
  t.equal(
    (await send(port, '/api/status', { headers: { Cookie: signedIn } })).status,
    200,
    'a session already open is not affected',
  );
  for (let i = 0; i < 20; i++) await send(port, '/api/status');
  t.equal((await login(port, TOKEN, { from: '127.0.0.2' })).status, 200, 'another address is not limited');
  clock.now += 30_000;
  t.equal((await login(port, TOKEN)).headers['retry-after'], '30');
  clock.now += 30_001;
  t.equal((await login(port, TOKEN)).status, 200, 'a minute later it works');
});

t.test('on loopback nothing is required and the session endpoint says so', async (t) => {
  const { port } = await setup(t, { listen: '127.0.0.1:0' });
  t.same((await send(port, '/api/session')).json(), { required: false, authenticated: true, csrf: null });
  t.equal((await send(port, '/api/status')).status, 200);
});
