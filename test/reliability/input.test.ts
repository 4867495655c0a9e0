/** The long bad-input runs (npm run reliability): three MQTT fuzz seeds of 10,000, 5,000 config files, HTTP 3 rounds, 6,000 outside-fuzzer mutations. */
import t from 'tap';
import { fuzzConfig } from './scenarios/fuzzConfig.js';
import { fuzzMqtt } from './scenarios/fuzzMqtt.js';
import { httpInput } from './scenarios/httpInput.js';
import { findMutator, NO_MUTATOR } from './lib/mutator.js';
import { outsideFuzz } from './scenarios/outsideFuzz.js';

t.setTimeout(30 * 60_000);
t.test('30,000 fuzzed MQTT commands (3 seeds)', async (t) => {
  for (const seed of [1, 2, 3]) await t.test(`seed ${seed}`, (t) => fuzzMqtt(t, { count: 10_000, mode: 'long', seed }));
});
t.test('5,000 fuzzed config files', (t) => fuzzConfig(t, { count: 5000, mode: 'long', seed: 5000 }));
t.test('hostile HTTP, 3 rounds', (t) => httpInput(t, { rounds: 3, mode: 'long' }));
const mutator = findMutator();
t.test('outside fuzzer, 6,000 mutations', { skip: mutator ? false : NO_MUTATOR }, (t) =>
  outsideFuzz(t, mutator!, { mqtt: 3000, config: 1500, http: 1500, mode: 'long', seed: 15_005 }),
);
