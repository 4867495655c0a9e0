// The tests' TypeScript loader (.taprc `node-arg`): tsx, whose source maps carry the source in
// the test processes that collect coverage.
//
// tsx leaves `sourcesContent` out of its source maps (`[null]`) unless NODE_V8_COVERAGE is set,
// and tap's report (c8 → v8-to-istanbul) then takes that null for the file's text: every range
// maps onto an empty file and the source reads 100% covered, a function never run included.
// tsx reads the variable once, when it loads, in the module-hooks thread that tap's own loaders
// have already started (with a copy of the environment): so it is set there, by a hooks module
// that exports no hooks, and around tsx's import here (its require() hook). Node reads the
// variable only at startup, so nothing is written, and what a test spawns does not inherit it.
import { register } from 'node:module';

const covering = process.env._TAPJS_PROCESSINFO_COVERAGE_ === '1' && process.env.NODE_V8_COVERAGE === undefined;
if (covering) {
  const set = `process.env.NODE_V8_COVERAGE = ${JSON.stringify('tsx: sourcesContent')};`;
  register(`data:text/javascript,${encodeURIComponent(set)}`);
  process.env.NODE_V8_COVERAGE = 'tsx: sourcesContent';
}
await import('tsx');
if (covering) delete process.env.NODE_V8_COVERAGE;
