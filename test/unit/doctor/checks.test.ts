import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { checkBroker } from '../../../agent/doctor/checks/broker.js';
import { checkCameras } from '../../../agent/doctor/checks/cameras.js';
import { checkClock } from '../../../agent/doctor/checks/clock.js';
import { checkDisk, checkSdWear } from '../../../agent/doctor/checks/disk.js';
import { checkFfmpeg } from '../../../agent/doctor/checks/ffmpeg.js';
import { checkGemini } from '../../../agent/doctor/checks/gemini.js';
import { checkSystemd } from '../../../agent/doctor/checks/systemd.js';
import { checkThrottling } from '../../../agent/doctor/checks/throttling.js';
import { formatChecks, runChecks } from '../../../agent/doctor/index.js';
import type { DoctorContext } from '../../../agent/doctor/types.js';
import type { CommandRunner, RunResult } from '../../../agent/util/run.js';
import { agentConfig } from '../../helpers/config.js';

type Answers = Record<string, Partial<RunResult> | Error>;

/** A runner that answers by "command arg0" and fails like a missing program otherwise. */
function fakeRun(answers: Answers): CommandRunner {
  return async (command, args) => {
    const a = answers[`${command} ${args[0] ?? ''}`.trim()] ?? answers[command];
    if (!a) throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' });
    if (a instanceof Error) throw a;
    return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...a };
  };
}

function ctx(over: Partial<DoctorContext> = {}): DoctorContext {
  return {
    config: agentConfig(),
    credentials: { mqttPassword: null, geminiApiKey: null, httpToken: null, commandKey: null },
    credentialsError: null,
    configFile: null,
    configProblems: [],
    run: fakeRun({}),
    hasCommand: () => false,
    root: '/nonexistent-root',
    statfs: async () => ({ freeBytes: 50, totalBytes: 100 }),
    fetch: async () => new Response('{}', { status: 200 }),
    mqttConnect: async () => {},
    vcgencmd: async () => null,
    timeoutMs: 500,
    ...over,
  };
}

t.test('ffmpeg', async (t) => {
  const good = await checkFfmpeg(
    ctx({
      run: fakeRun({ ffmpeg: { stdout: 'ffmpeg version 6.1 Copyright\nbuilt with gcc' } }),
      hasCommand: () => true,
    }),
  );
  t.same(good, [{ name: 'ffmpeg', status: 'ok', detail: 'ffmpeg version 6.1 Copyright' }]);
  const missing = await checkFfmpeg(ctx());
  t.equal(missing[0]!.status, 'fail');
  t.match(missing[0]!.fix, /apt-get install ffmpeg/);
  t.equal(missing[1]!.name, 'ffprobe');
});

t.test('clock sync', async (t) => {
  const has = () => true;
  t.equal(
    (await checkClock(ctx({ hasCommand: has, run: fakeRun({ timedatectl: { stdout: 'yes\n' } }) }))).status,
    'ok',
  );
  const no = await checkClock(ctx({ hasCommand: has, run: fakeRun({ timedatectl: { stdout: 'no\n' } }) }));
  t.equal(no.status, 'fail');
  t.match(no.fix, /set-ntp true/);
  const root = t.testdir({ run: { systemd: { timesync: { synchronized: '' } } } });
  t.equal(
    (await checkClock(ctx({ root, hasCommand: has, run: fakeRun({ timedatectl: { code: 1 } }) }))).status,
    'ok',
    'timesyncd flag file',
  );
  t.equal((await checkClock(ctx())).status, 'warn', 'unknown');
});

t.test('disk against archive.minFreePercent', async (t) => {
  const c = ctx();
  c.config.archive.minFreePercent = 10;
  const at = (free: number) => checkDisk({ ...c, statfs: async () => ({ freeBytes: free, totalBytes: 100 }) });
  const full = await at(5);
  t.equal(full.status, 'fail');
  t.match(full.detail, /5\.0 %/);
  t.match(full.fix, /archive\.maxAgeHours/);
  t.equal((await at(15)).status, 'warn');
  t.equal((await at(50)).status, 'ok');
  const seen: string[] = [];
  const walked = await checkDisk({
    ...c,
    statfs: async (p) => {
      seen.push(p);
      if (p !== '/var') throw new Error('ENOENT');
      return { freeBytes: 50, totalBytes: 100 };
    },
  });
  t.equal(walked.status, 'ok');
  t.match(walked.detail, /at \/var$/, 'walks up to the nearest existing folder');
});

t.test('storage wear from eMMC sysfs', async (t) => {
  const tree = (life?: string, eol?: string) =>
    t.testdir({
      sys: {
        block: { mmcblk0: { device: { ...(life ? { life_time: life } : {}), ...(eol ? { pre_eol_info: eol } : {}) } } },
      },
    });
  t.equal((await checkSdWear(ctx({ root: tree('0x02 0x01', '0x01') }))).status, 'ok');
  t.equal((await checkSdWear(ctx({ root: tree('0x0a 0x02', '0x01') }))).status, 'warn');
  t.equal((await checkSdWear(ctx({ root: tree('0x0b 0x02') }))).status, 'fail');
  t.equal((await checkSdWear(ctx({ root: tree('0x01 0x01', '0x03') }))).status, 'fail', 'urgent pre-EOL');
  const sd = await checkSdWear(ctx({ root: tree() }));
  t.equal(sd.status, 'ok');
  t.match(sd.detail, /SD card/);
  t.equal((await checkSdWear(ctx())).detail, 'no MMC storage: nothing to check');
});

t.test('cameras', async (t) => {
  const root = t.testdir({ dev: { video0: '' }, 'clip.mp4': '' });
  const c = ctx({ root });
  c.config.cameras = [
    { id: 'gone', source: 'v4l2:/dev/video99', width: 1280, height: 720, fps: 30 },
    { id: 'pattern', source: 'test', width: 1280, height: 720, fps: 30 },
    { id: 'auto', source: 'auto', width: 1280, height: 720, fps: 30 },
    { id: 'node', source: 'v4l2:/dev/video0', width: 1280, height: 720, fps: 30 },
    { id: 'clip', source: 'file:///nowhere/clip.mp4', width: 1280, height: 720, fps: 30 },
    { id: 'ip', source: 'rtsp://user:pw@10.0.0.9/stream', width: 1280, height: 720, fps: 30 },
    { id: 'csi', source: 'csi:0', width: 1280, height: 720, fps: 30 },
  ];
  const r = await checkCameras(c);
  const by = Object.fromEntries(r.map((x) => [x.name, x]));
  t.equal(by['camera gone']!.status, 'fail');
  t.match(by['camera gone']!.detail, '/dev/video99 does not exist');
  t.match(by['camera gone']!.fix, /v4l2-ctl --list-devices/);
  t.equal(by['camera pattern']!.status, 'ok');
  t.equal(by['camera auto']!.status, 'warn');
  t.match(by['camera auto']!.detail, /test pattern/);
  t.equal(by['camera node']!.status, 'warn', 'exists but is no capture camera');
  t.equal(by['camera clip']!.status, 'fail');
  t.equal(by['camera ip']!.status, 'ok');
  t.notMatch(by['camera ip']!.detail, /pw/, 'no password in the report');
  t.equal(by['camera csi']!.status, 'fail', 'no producer program');
});

t.test('broker', async (t) => {
  const c = ctx();
  t.match((await checkBroker(c)).detail, /embedded/);
  c.config.mqtt.url = 'mqtt://user:secret@127.0.0.1:1';
  const refused = await checkBroker({
    ...c,
    mqttConnect: async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    },
  });
  t.equal(refused.status, 'fail');
  t.notMatch(refused.detail, /secret/);
  t.match(refused.fix, /nothing listens there/);
  const denied = await checkBroker({
    ...c,
    mqttConnect: async () => {
      throw new Error('Connection refused: Not authorized');
    },
  });
  t.match(denied.fix, /refused the login/);
  t.equal((await checkBroker(c)).status, 'ok');
});

t.test('gemini key', async (t) => {
  const c = ctx();
  t.equal((await checkGemini(c)).status, 'ok', 'analysis off');
  c.config.analysis.enabled = true;
  const none = await checkGemini(c);
  t.equal(none.status, 'fail');
  t.match(none.fix, /gemini-api-key/);
  const withKey = { ...c, credentials: { ...c.credentials!, geminiApiKey: 'k-123' } };
  // A real local server standing in for the API: checks the path and the key header.
  const seen: Array<{ url?: string; key?: string | string[] }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url, key: req.headers['x-goog-api-key'] });
    res.writeHead(req.headers['x-goog-api-key'] === 'k-123' ? 200 : 403).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  withKey.config.analysis.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const accepted = await checkGemini({ ...withKey, fetch: globalThis.fetch });
  t.equal(accepted.status, 'ok', accepted.detail);
  t.same(seen[0], { url: '/v1beta/models?pageSize=1', key: 'k-123' });
  const rejected = await checkGemini({
    ...withKey,
    fetch: globalThis.fetch,
    credentials: { ...withKey.credentials, geminiApiKey: 'bad' },
  });
  t.equal(rejected.status, 'fail');
  t.match(rejected.detail, /HTTP 403/);
  const offline = await checkGemini({
    ...withKey,
    fetch: async () => {
      throw new TypeError('fetch failed');
    },
  });
  t.equal(offline.status, 'warn');
});

// Issue 15: sudo edge-agent doctor sent the content of any analysis.apiKeyFile to any analysis.baseUrl.
t.test(
  "gemini key: never sent to a base URL that is neither Google's nor loopback, unless --trust-base-url",
  async (t) => {
    const c = ctx();
    c.config.analysis.enabled = true;
    const sent: string[] = [];
    const fetch = (async (url: string) => {
      sent.push(url);
      return new Response('{}', { status: 200 });
    }) as typeof globalThis.fetch;
    const withKey = { ...c, fetch, credentials: { ...c.credentials!, geminiApiKey: 'content-of-/etc/shadow' } };
    withKey.config.analysis.baseUrl = 'https://collector.example/';
    const refused = await checkGemini(withKey);
    t.equal(refused.status, 'warn');
    t.match(refused.detail, /not sent to https:\/\/collector\.example/);
    t.match(refused.fix, /--trust-base-url/);
    t.same(sent, [], 'nothing was sent');
    t.equal((await checkGemini({ ...withKey, trustBaseUrl: true })).status, 'ok', 'the flag vouches for it');
    t.same(sent, ['https://collector.example/v1beta/models?pageSize=1']);
    withKey.config.analysis.baseUrl = null;
    t.equal((await checkGemini(withKey)).status, 'ok', 'the default endpoint');
    t.equal(sent[1], 'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1');
    withKey.config.analysis.baseUrl = 'https://generativelanguage.googleapis.com';
    t.equal((await checkGemini(withKey)).status, 'ok', 'the default endpoint written out');
    withKey.config.analysis.baseUrl = 'http://generativelanguage.googleapis.com';
    t.equal(
      (await checkGemini(withKey)).status,
      'warn',
      'the default host over plain http is not the default endpoint',
    );
  },
);

t.test('power/throttling from vcgencmd', async (t) => {
  const at = (out: string | null) => checkThrottling(ctx({ vcgencmd: async () => out }));
  t.equal((await at('throttled=0x50005\n')).status, 'fail', 'under-voltage now');
  t.equal((await at('throttled=0x50000\n')).status, 'warn', 'under-voltage since boot');
  t.equal((await at('throttled=0x0\n')).status, 'ok');
  t.match((await at(null)).detail, /nothing to check/);
});

t.test('power/throttling on a Jetson Orin: OC counters and rail alarms', async (t) => {
  const root = t.testdir({ sys: {} });
  await cp(fileURLToPath(new URL('../../fixtures/sysfs/jetson-orin-nano/', import.meta.url)), path.join(root, 'sys'), {
    recursive: true,
  });
  const hwmon = path.join(root, 'sys/class/hwmon');
  const check = () => checkThrottling(ctx({ root, vcgencmd: async () => null }));
  const events = await check();
  t.equal(events.status, 'warn', 'OC1 events since boot');
  t.match(events.detail, /3 under-voltage \(OC1\) event\(s\) since boot.*module draw 7\.8 W at 5\.05 V/);
  await writeFile(path.join(hwmon, 'hwmon2/oc1_event_cnt'), '0\n');
  t.match((await check()).detail, /0 average \(OC2\), 37 instantaneous \(OC3\)/);
  await writeFile(path.join(hwmon, 'hwmon2/oc3_event_cnt'), '0\n');
  t.equal((await check()).status, 'ok');
  await writeFile(path.join(hwmon, 'hwmon1/curr1_crit_alarm'), '1\n');
  const alarm = await check();
  t.equal(alarm.status, 'fail');
  t.match(alarm.detail, /critical current on VDD_IN now/);
});

t.test('systemd state and watchdog', async (t) => {
  const show = (stdout: string) => ctx({ hasCommand: () => true, run: fakeRun({ 'systemctl show': { stdout } }) });
  const base = 'LoadState=loaded\nUnitFileState=enabled\nWatchdogUSec=30s\n';
  t.equal(
    (await checkSystemd(show(`${base}ActiveState=active\nSubState=running\nResult=success\nNRestarts=0\n`))).status,
    'ok',
  );
  const bitten = await checkSystemd(
    show(`${base}ActiveState=active\nSubState=running\nResult=watchdog\nNRestarts=2\n`),
  );
  t.equal(bitten.status, 'warn');
  t.match(bitten.detail, /2 restart/);
  t.equal(
    (await checkSystemd(show(`${base}ActiveState=failed\nSubState=failed\nResult=exit-code\nNRestarts=10\n`))).status,
    'fail',
  );
  t.equal((await checkSystemd(show('LoadState=not-found\n'))).status, 'warn');
  t.equal((await checkSystemd(ctx())).status, 'ok', 'no systemctl: skipped');
});

t.test('runChecks keeps going past a crashing check; formatChecks prints fixes', async (t) => {
  const results = await runChecks(ctx(), [
    [
      'boom',
      async () => {
        throw new Error('kaput');
      },
    ],
    ['fine', async () => ({ name: 'fine', status: 'ok', detail: 'yes' })],
  ]);
  t.equal(results.length, 2);
  t.equal(results[0]!.status, 'fail');
  t.match(results[0]!.detail, /kaput/);
  const text = formatChecks(results);
  t.match(text, /^FAIL  boom {2}/m);
  t.match(text, /^ {16}fix: /m, 'fix under the detail column');
  t.match(text, /1 fail\(s\), 0 warning\(s\)/);
});
