/** The remote allow-list (agent/config/remote.ts): every schema key is classified, and the issue 15 list is protected. */
import t from 'tap';
import { isFileSource, keysNamed, LOCAL_ONLY_KEYS, REMOTE_KEYS, remoteAccess } from '../../../agent/config/remote.js';
import { schemaLeaves } from '../../../agent/config/schema.js';

t.test('the keys that redirect the board, its secrets or its folders are never open', async (t) => {
  const protectedKeys = [...schemaLeaves().keys()].filter(
    // mqtt.homeAssistant.snapshotSeconds is open since the metrics merge: it only paces pictures already allowed.
    (k) =>
      (k.startsWith('mqtt.') &&
        !['mqtt.healthIntervalSeconds', 'mqtt.configGateSeconds', 'mqtt.homeAssistant.snapshotSeconds'].includes(k)) ||
      k.endsWith('File') ||
      k.startsWith('http.') ||
      ['analysis.baseUrl', 'device.id', 'dataDir', 'hls.dir', 'archive.dir'].includes(k) ||
      k.endsWith('allowInsecure'),
  );
  t.ok(protectedKeys.length >= 17);
  for (const key of protectedKeys) t.not(remoteAccess(key), 'open', `${key} is not open`);
});

t.test('every allow-listed key exists, and an unknown key defaults to signed-only', async (t) => {
  const leaves = schemaLeaves();
  for (const key of [...REMOTE_KEYS, ...LOCAL_ONLY_KEYS]) t.ok(leaves.has(key), `${key} is a schema key`);
  t.equal(remoteAccess('mqtt.someFutureUrl'), 'signed');
  t.equal(remoteAccess('mqtt.requireScopedSignatures'), 'local');
  t.equal(remoteAccess('hls.listSize'), 'open');
});

t.test('the analysis cost levers are open: they change what a request costs, never where anything goes', async (t) => {
  for (const key of [
    'analysis.fps',
    'analysis.resolution',
    'analysis.skipDuplicates',
    'analysis.duplicateMotion',
    'analysis.duplicateDistance',
  ]) {
    t.equal(remoteAccess(key), 'open', key);
  }
  t.same(
    keysNamed('cameras[0].analysis.fps'),
    ['cameras'],
    "a camera's overrides are part of cameras (open but for file: sources)",
  );
});

t.test('file sources', async (t) => {
  for (const s of ['file:/a.mp4', 'file:///a.mp4', '/srv/a.mp4']) t.ok(isFileSource(s), s);
  for (const s of ['test', 'auto', 'rtsp://cam/x', 'v4l2:/dev/video0']) t.notOk(isFileSource(s), s);
});

t.test('keysNamed: the schema keys a set path names, before validation', async (t) => {
  t.same(keysNamed('cameras[0].source'), ['cameras']);
  t.same(keysNamed('cameras.1.fps'), ['cameras']);
  t.same(keysNamed('mqtt.url'), ['mqtt.url']);
  t.ok(keysNamed('mqtt').includes('mqtt.passwordFile'), 'a whole section names every key in it');
  t.same(keysNamed('no.such.key'), []);
});
