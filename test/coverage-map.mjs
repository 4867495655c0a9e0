// tap's coverage map (.taprc `coverage-map`): the sources a test file collects coverage for.
//
// A unit test covers its mirror source (test/unit/util/backoff.test.ts → agent/util/backoff.ts,
// test/unit/device/x.test.ts → device/x.ts) when that source is listed in COVERED; every other
// test file (the integration tests, unit tests whose source is not listed) collects none, and
// what it spawns runs without the inspector. A listed source is a contract: its test alone keeps
// it at 100% statements, branches, functions and lines, or the run fails. To list a source, bring
// it there with its test (`npx tap test/unit/x/y.test.ts` prints what is missing) and add it.
// Plain JavaScript: tap loads this module in the runner, which has no TypeScript loader.

/** Sources held at 100% by their unit test. */
export const COVERED = [
  'agent/analysis/costs.ts',
  'agent/analysis/duplicates.ts',
  'agent/analysis/retry.ts',
  'agent/analysis/scene.ts',
  'agent/archive/segmentName.ts',
  'agent/commands/analyze.ts',
  'agent/commands/getConfig.ts',
  'agent/commands/index.ts',
  'agent/commands/listArchives.ts',
  'agent/commands/ping.ts',
  'agent/commands/probe.ts',
  'agent/commands/restartPipeline.ts',
  'agent/commands/search.ts',
  'agent/commands/setConfig.ts',
  'agent/commands/snapshot.ts',
  'agent/config/diff.ts',
  'agent/config/redact.ts',
  'agent/contract/topics.ts',
  'agent/encoderPlan.ts',
  'agent/fleet/plan.ts',
  'agent/http/listen.ts',
  'agent/http/search.ts',
  'agent/link/brokerAcl.ts',
  'agent/link/reconnect.ts',
  'agent/link/router.ts',
  'agent/modules.ts',
  'agent/pipeline/failure.ts',
  'agent/pipeline/ffmpegArgs.ts',
  'agent/pipeline/progress.ts',
  'agent/pipeline/sourcePolicy.ts',
  'agent/util/backoff.ts',
  'agent/util/bus.ts',
  'agent/util/childEnv.ts',
  'agent/util/logger.ts',
  'device/encoders/args.ts',
  'device/encoders/ladder.ts',
];

/** Listed sources whose test is not at the mirror path. */
export const TESTED_ELSEWHERE = new Map([
  ...[
    'analyze',
    'getConfig',
    'index',
    'listArchives',
    'ping',
    'probe',
    'restartPipeline',
    'search',
    'setConfig',
    'snapshot',
  ].map((name) => [`agent/commands/${name}.ts`, 'test/unit/commands/commands.test.ts']),
  ['agent/contract/topics.ts', 'test/unit/link/topics.test.ts'],
  ['agent/link/brokerAcl.ts', 'test/unit/link/brokerAuth.test.ts'],
]);

/** The test file a source is held to: its mirror under test/unit/, unless named above. */
export function testOf(source) {
  return TESTED_ELSEWHERE.get(source) ?? `test/unit/${source.replace(/^agent\//, '').replace(/\.ts$/, '.test.ts')}`;
}

/**
 * @param {string} testFile the test, relative to the repository root, `/`-separated
 * @returns {string[] | null} the listed sources it covers, or null: no coverage at all
 */
export default function coverageMap(testFile) {
  const sources = COVERED.filter((source) => testOf(source) === testFile);
  return sources.length > 0 ? sources : null;
}
