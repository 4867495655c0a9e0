/** The long bad-input runs (npm run reliability): three MQTT fuzz seeds of 10,000, 5,000 config files, HTTP 3 rounds. */
import t from 'tap';
import { fuzzConfig } from './scenarios/fuzzConfig.js';
import { fuzzMqtt } from './scenarios/fuzzMqtt.js';
import { httpInput } from './scenarios/httpInput.js';

t.setTimeout(30 * 60_000);
t.test('30,000 fuzzed MQTT commands (3 seeds)', async (t) => {
  for (const seed of [1, 2, 3]) await t.test(`seed ${seed}`, (t) => fuzzMqtt(t, { count: 10_000, mode: 'long', seed }));
});
t.test('5,000 fuzzed config files', (t) => fuzzConfig(t, { count: 5000, mode: 'long', seed: 5000 }));
t.test('hostile HTTP, 3 rounds', (t) => httpInput(t, { rounds: 3, mode: 'long' }));
