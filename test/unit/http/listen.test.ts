import t from 'tap';
import { bearerMatches, isLoopback, parseListen } from '../../../agent/http/listen.js';

const listenCases: Array<[string, string, { host: string; port: number } | RegExp]> = [
  ['the default', '127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
  ['every interface', '0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
  ['a host name', 'localhost:9000', { host: 'localhost', port: 9000 }],
  ['bracketed IPv6', '[::1]:8080', { host: '::1', port: 8080 }],
  ['bare port means loopback', '8080', { host: '127.0.0.1', port: 8080 }],
  ['port 0 for tests', '127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
  ['port too large', '127.0.0.1:70000', /http.listen must be host:port/],
  ['no port', '127.0.0.1', /http.listen/],
  ['unbracketed IPv6', '::1:8080', /http.listen/],
  ['empty', '', /http.listen/],
];
for (const [name, listen, want] of listenCases) {
  t.test(`parseListen: ${name}`, async (t) => {
    if (want instanceof RegExp) t.throws(() => parseListen(listen), { code: 'config_invalid', message: want });
    else t.same(parseListen(listen), want);
  });
}

t.test('isLoopback', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', 'LOCALHOST']) t.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'gate-01.local', '127.0.0.1.evil'])
    t.notOk(isLoopback(host), host);
});

t.test('bearerMatches', async (t) => {
  t.ok(bearerMatches('Bearer abc123', 'abc123'));
  t.ok(bearerMatches('bearer abc123', 'abc123'), 'scheme is case-insensitive');
  t.notOk(bearerMatches('Bearer abc12', 'abc123'));
  t.notOk(bearerMatches('Bearer abc1234', 'abc123'));
  t.notOk(bearerMatches('Bearer ', 'abc123'));
  t.notOk(bearerMatches(undefined, 'abc123'));
  t.notOk(bearerMatches('abc123', 'abc123'));
  t.notOk(bearerMatches('Bearer abc123 extra', 'abc123'));
});
