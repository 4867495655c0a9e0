import { readFileSync, readdirSync, statSync, chmodSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '../../../agent/contract/errors.js';
import { applySets, persistConfig } from '../../../agent/config/persist.js';
import { writeFileAtomic } from '../../../agent/util/files.js';
import { validateConfig } from '../../../agent/config/validate.js';

const running = validateConfig({ device: { id: 'gate' }, cameras: [{ id: 'a', source: 'test' }] });

t.test('applySets returns the changed config and leaves the original alone', async (t) => {
  const before = structuredClone(running);
  const next = applySets(running, { 'hls.listSize': 8, 'cameras[0].fps': 15, 'mqtt.url': 'mqtt://broker:1883' });
  t.equal(next.hls.listSize, 8);
  t.equal(next.cameras[0]!.fps, 15);
  t.equal(next.mqtt.url, 'mqtt://broker:1883');
  t.same(running, before);
});

t.test('applySets validates the whole result', async (t) => {
  const cases: [string, unknown, string[]][] = [
    ['bad value', { 'hls.listSize': 0 }, ['hls.listSize must be an integer between 2 and 100, got 0']],
    [
      'unknown key',
      { 'hls.size': 3 },
      ['hls.size is not a known key; known keys: hls.dir, hls.segmentSeconds, hls.listSize'],
    ],
    [
      'combination',
      { 'hls.segmentSeconds': 7 },
      ['archive.segmentSeconds must be a whole multiple of hls.segmentSeconds (7) so cuts fall on keyframes, got 600'],
    ],
    ['not a key path', { 'a..b': 1 }, ['"a..b" is not a key path like mqtt.url or cameras[0].fps']],
    [
      'prototype',
      { '__proto__.polluted': 1 },
      ['"__proto__.polluted" is not a key path like mqtt.url or cameras[0].fps'],
    ],
    ['empty', {}, ['set must be an object of key paths to values like {"hls.listSize": 8}, got {}']],
    ['not an object', [1], ['set must be an object of key paths to values like {"hls.listSize": 8}, got [1]']],
  ];
  for (const [name, sets, expected] of cases) {
    const before = structuredClone(running);
    const error = t.throws(() => applySets(running, sets as Record<string, unknown>), ConfigError, name) as ConfigError;
    t.same(error.problems, expected, name);
    t.same(running, before, `${name}: original untouched`);
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');
});

t.test("persistConfig updates only the file's own content", async (t) => {
  const dir = t.testdir({ 'config.json': JSON.stringify({ mqtt: { url: 'mqtt://old:1883' } }) });
  const file = path.join(dir, 'config.json');
  chmodSync(file, 0o640);
  const content = await persistConfig(file, { 'mqtt.url': 'mqtt://new:1883', 'hls.listSize': 9 });
  t.same(content, { mqtt: { url: 'mqtt://new:1883' }, hls: { listSize: 9 } });
  t.same(JSON.parse(readFileSync(file, 'utf8')), content, 'defaults are not written into the file');
  t.equal(statSync(file).mode & 0o777, 0o640, 'the file keeps its permissions');
  t.same(readdirSync(dir), ['config.json'], 'no temporary file is left behind');
});

t.test('persistConfig leaves the file intact when the result is invalid', async (t) => {
  const original = '{\n  "hls": {"segmentSeconds": 2},\n  "archive": {"segmentSeconds": 10}\n}\n';
  const dir = t.testdir({ 'config.json': original });
  const file = path.join(dir, 'config.json');
  await t.rejects(persistConfig(file, { 'hls.segmentSeconds': 3 }), ConfigError);
  await t.rejects(persistConfig(file, { 'mqtt.port': 3 }), ConfigError);
  t.equal(readFileSync(file, 'utf8'), original, 'byte for byte the same');
  t.same(readdirSync(dir), ['config.json']);
});

t.test('persistConfig seeds a list the file leaves to the default', async (t) => {
  const dir = t.testdir({ 'config.json': '{}' });
  const file = path.join(dir, 'config.json');
  const content = await persistConfig(file, { 'cameras[0].fps': 15 });
  t.same(content, { cameras: [{ id: 'cam1', source: 'auto', width: 1280, height: 720, fps: 15 }] });
});

t.test('persistConfig creates a missing file, refuses a broken one', async (t) => {
  const dir = t.testdir({ 'broken.json': '{"hls": ' });
  const created = path.join(dir, 'new.json');
  await persistConfig(created, { 'device.id': 'gate-02' });
  t.same(JSON.parse(readFileSync(created, 'utf8')), { device: { id: 'gate-02' } });
  await t.rejects(persistConfig(path.join(dir, 'broken.json'), { 'device.id': 'x' }), ConfigError);
  t.equal(readFileSync(path.join(dir, 'broken.json'), 'utf8'), '{"hls": ');
});

t.test('concurrent persists are applied one after the other', async (t) => {
  const dir = t.testdir({ 'config.json': '{}' });
  const file = path.join(dir, 'config.json');
  await Promise.all([
    persistConfig(file, { 'hls.listSize': 7 }),
    persistConfig(file, { 'mqtt.topicPrefix': 'site' }),
    persistConfig(file, { 'hls.listSize': 0 }).catch(() => 'refused'),
    persistConfig(file, { 'encoder.bitrateKbps': 1000 }),
  ]);
  t.same(JSON.parse(readFileSync(file, 'utf8')), {
    hls: { listSize: 7 },
    mqtt: { topicPrefix: 'site' },
    encoder: { bitrateKbps: 1000 },
  });
});

t.test('writeFileAtomic cleans up when it cannot write', async (t) => {
  const dir = t.testdir({ sub: {} });
  await t.rejects(writeFileAtomic(path.join(dir, 'sub'), 'x'), 'cannot rename over a directory');
  t.same(readdirSync(dir), ['sub']);
  t.same(readdirSync(path.join(dir, 'sub')), []);
});
