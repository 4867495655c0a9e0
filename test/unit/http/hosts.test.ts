import t from 'tap';
import { HostCheck, hostOf } from '../../../agent/http/hosts.js';

t.test('hostOf: the host part of a Host header', async (t) => {
  const cases: [string, string | null][] = [
    ['Example.COM:8080', 'example.com'],
    ['example.com.', 'example.com'],
    ['[::1]:80', '::1'],
    ['[fe80::1%25eth0]', 'fe80::1'],
    ['10.0.0.7', '10.0.0.7'],
    ['a b', null],
    ['user@host', null],
    ['host/path', null],
    ['', null],
    [':8080', null],
  ];
  for (const [header, host] of cases) t.equal(hostOf(header), host, JSON.stringify(header));
});

t.test(
  'HostCheck: loopback, the listen address, host name (+.local), addresses, allow-list; re-read every 10 s',
  async (t) => {
    let addresses = ['192.168.1.50'];
    const clock = { now: 0 };
    const check = new HostCheck(
      '10.1.2.3',
      ['proxy.example'],
      { hostname: () => 'Pi', addresses: () => addresses },
      () => clock.now,
    );
    for (const ok of [
      'localhost',
      'app.localhost',
      '127.0.0.5:1',
      '[::1]',
      '10.1.2.3:8080',
      'pi',
      'pi.local',
      '192.168.1.50',
      'PROXY.example',
    ]) {
      t.ok(check.allows(ok), ok);
    }
    t.ok(check.allows(undefined), 'HTTP/1.0 without Host');
    for (const bad of ['evil.example', 'pi.evil.example', '192.168.1.51', 'localhost.evil.example'])
      t.notOk(check.allows(bad), bad);
    addresses = ['192.168.1.51'];
    t.notOk(check.allows('192.168.1.51'), 'cached');
    clock.now += 10_000;
    t.ok(check.allows('192.168.1.51'), 'a new DHCP address after 10 s');
    t.notOk(
      new HostCheck('0.0.0.0', [], { hostname: () => 'pi', addresses: () => [] }).allows('0.0.0.0'),
      'a wildcard bind is no name',
    );
  },
);
