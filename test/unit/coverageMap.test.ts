/**
 * The coverage map (test/coverage-map.mjs): a listed source is held to 100% by one test file, and
 * a name that matches nothing would silently cover nothing (tap's glob finds no file and the test
 * runs without coverage), so every listed source and its test must exist.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import coverageMap, { COVERED, TESTED_ELSEWHERE, testOf } from '../coverage-map.mjs';
import { ROOT } from '../helpers/agentProcess.js';

t.test('every listed source exists, once, and so does the test it is held to', async (t) => {
  t.same(
    COVERED.filter((s, i) => COVERED.indexOf(s) !== i),
    [],
    'no source listed twice',
  );
  t.same(
    COVERED.filter((s) => !existsSync(path.join(ROOT, s))),
    [],
    'no listed source is missing',
  );
  t.same(
    COVERED.filter((s) => !existsSync(path.join(ROOT, testOf(s)))),
    [],
    'no listed source lacks its test',
  );
  t.same(
    [...TESTED_ELSEWHERE.keys()].filter((s) => !COVERED.includes(s)),
    [],
    'every source tested elsewhere is listed',
  );
});

t.test('a unit test covers its listed mirror source, and only that', async (t) => {
  t.equal(testOf('agent/util/backoff.ts'), 'test/unit/util/backoff.test.ts');
  t.equal(testOf('device/encoders/ladder.ts'), 'test/unit/device/encoders/ladder.test.ts');
  t.equal(testOf('agent/encoderPlan.ts'), 'test/unit/encoderPlan.test.ts');
  t.same(coverageMap('test/unit/util/backoff.test.ts'), ['agent/util/backoff.ts']);
  t.same(coverageMap('test/unit/device/encoders/ladder.test.ts'), ['device/encoders/ladder.ts']);
  t.same(coverageMap('test/unit/link/topics.test.ts'), ['agent/contract/topics.ts'], 'a test named elsewhere');
  t.equal(coverageMap('test/unit/coverageMap.test.ts'), null, 'a unit test without a listed source');
});

t.test('integration tests collect no coverage', async (t) => {
  const integration = readdirSync(path.join(ROOT, 'test/integration')).filter((f) => f.endsWith('.test.ts'));
  t.ok(integration.length > 0);
  t.same(
    integration.filter((f) => coverageMap(`test/integration/${f}`) !== null),
    [],
  );
});
