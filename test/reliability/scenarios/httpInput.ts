/**
 * Hostile HTTP against the real agent's local server, over raw sockets so paths reach it
 * unnormalised: traversal in every spelling, bad percent-encoding, NUL bytes, oversized request
 * lines and headers, too many headers, bad ranges, odd methods and garbage.
 * Expected: an error status (or a closed socket for what is not HTTP), nothing outside the
 * archive and HLS folders served, the agent still up and /healthz still answering.
 */
import { connect } from 'node:net';
import type { Test } from 'tap';
import { AgentProcess, testConfig } from '../../helpers/agentProcess.js';
import { recordResult } from '../lib/results.js';

/** Sends raw bytes (exported for the outside fuzzers), returns the status (0 when the server closed without answering) and body. */
export function raw(
  port: number,
  request: string,
  timeoutMs = 5000,
): Promise<{ status: number; text: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), text: data, timedOut: data === '' });
    }, timeoutMs);
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), text: data, timedOut: false });
    });
    socket.write(request);
  });
}

const get = (target: string, headers = '') =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`;

export async function httpInput(t: Test, options: { rounds: number; mode: 'ci' | 'long' }): Promise<void> {
  const dir = t.testdir({ 'secret.txt': 'TOP-SECRET-OUTSIDE' });
  const agent = AgentProcess.start(dir, testConfig(dir));
  t.teardown(() => agent.stop());
  const [listening] = await agent.waitLog('http listening', 1, 30_000);
  const port = Number(listening!.port);
  const [finished] = await agent.waitEvent('archive.finished', 1, 30_000);
  const archive = finished!.file;
  const [camera, day] = archive.split('/');
  const traversal = [
    '/archives/../secret.txt',
    '/archives/../../secret.txt',
    `/archives/${camera}/${day}/../../../secret.txt`,
    '/archives/..%2f..%2fsecret.txt',
    '/archives/%2e%2e/%2e%2e/secret.txt',
    '/archives/%252e%252e/secret.txt',
    `/archives/${camera}/..%5c..%5csecret.txt`,
    '/archives/....//....//secret.txt',
    `/archives/${camera}/${day}/%00.mp4`,
    '/archives//etc/passwd',
    '/archives/%2Fetc%2Fpasswd',
    '/archives/cam1/2020-01-01/..',
    '/hls/../secret.txt',
    '/hls/cam1/..%2f..%2fsecret.txt',
    '/hls/%2e%2e/config.json',
    `/hls/${camera}/../../config.json`,
    '/static/../../../../etc/passwd',
    '/static/%2e%2e%2f%2e%2e%2fpackage.json',
    '/%ZZ',
    '/archives/%',
    '/api/archives?camera=../../etc&limit=-1',
    '/api/archives?limit=1e309',
    '/api/archives?camera=%00',
    `/${'a/'.repeat(4000)}`,
    '//',
    '/?'.padEnd(9000, 'x'),
  ];
  const requests: Array<[string, string]> = traversal.map((p) => [`GET ${p.slice(0, 60)}`, get(p)]);
  const hostilePaths = new Set(requests.map(([name]) => name).filter((name) => !name.startsWith('GET /api/archives')));
  requests.push(
    ['header of 20 KB', get('/api/status', `X-Big: ${'x'.repeat(20_000)}\r\n`)],
    ['request line of 100 KB', get(`/${'x'.repeat(100_000)}`)],
    ['2,000 headers', get('/api/status', Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join(''))],
    ['range past the end', get(`/archives/${archive}`, 'Range: bytes=999999999-\r\n')],
    ['reversed range', get(`/archives/${archive}`, 'Range: bytes=50-10\r\n')],
    ['garbage range', get(`/archives/${archive}`, 'Range: bytes=-\r\n')],
    [
      'many ranges',
      get(`/archives/${archive}`, `Range: bytes=${Array.from({ length: 500 }, (_, i) => `${i}-${i}`).join(',')}\r\n`),
    ],
    ['DELETE', `DELETE /archives/${archive} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ['PUT with a body', 'PUT /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'],
    ['OPTIONS *', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['not HTTP', '\u0000\u0001\u0002garbage\r\n\r\n'],
    ['HTTP/0.9', 'GET /\r\n\r\n'],
    ['absolute URI', 'GET http://evil.example/../../secret.txt HTTP/1.1\r\nHost: evil\r\nConnection: close\r\n\r\n'],
    ['Host with traversal', 'GET /api/status HTTP/1.1\r\nHost: ../../\r\nConnection: close\r\n\r\n'],
  );
  const statuses = new Map<number, number>();
  const leaks: string[] = [];
  const hung: string[] = [];
  const served: string[] = [];
  for (let round = 0; round < options.rounds; round += 1) {
    for (const [name, request] of requests) {
      const { status, text, timedOut } = await raw(port, request);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (/TOP-SECRET-OUTSIDE|root:x:0:0|"dependencies"/.test(text)) leaks.push(name);
      if (timedOut) hung.push(name);
      // /api/status answering through 2,000 headers or an odd Host is fine; a traversal path is not.
      if (status >= 200 && status < 300 && hostilePaths.has(name)) served.push(`${name} → ${status}`);
    }
  }
  t.same(leaks, [], 'nothing outside the archive and HLS folders was served');
  t.same(hung, [], 'every request was answered or closed within 5 s');
  t.same(served, [], 'every hostile path got an error status');
  const health = await raw(port, get('/healthz'));
  t.equal(health.status, 200, '/healthz still answers 200');
  t.equal(agent.child.exitCode, null, 'the agent is still running');
  const download = await raw(port, get(`/archives/${archive}`, 'Range: bytes=0-99\r\n'));
  t.equal(download.status, 206, 'a real archive still downloads with a range');
  recordResult(
    {
      id: 'l-http-input',
      scenario: 'hostile HTTP: traversal in every spelling, oversized lines and headers, bad ranges, odd methods',
      mode: options.mode,
      tried: `${requests.length} kinds × ${options.rounds} round(s)`,
      lost:
        leaks.length === 0 ? 'nothing: no file outside archive.dir served, no crash' : `leaked: ${leaks.join(', ')}`,
      notes: `statuses ${[...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s || 'closed'}×${n}`)
        .join(', ')}; /healthz 200 after`,
    },
    t.passing(),
  );
}
