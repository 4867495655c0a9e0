/** The CI versions of the bad-input scenarios (the long runs in test/reliability/input.test.ts use more seeds). */
import t from 'tap';
import { fuzzConfig } from '../reliability/scenarios/fuzzConfig.js';
import { fuzzMqtt } from '../reliability/scenarios/fuzzMqtt.js';
import { httpInput } from '../reliability/scenarios/httpInput.js';

t.test('10,000 fuzzed MQTT commands: no crash, nothing changed, clear errors', (t) =>
  fuzzMqtt(t, { count: 10_000, mode: 'ci' }),
);
t.test('1,000 fuzzed config files through config check', (t) => fuzzConfig(t, { count: 1000, mode: 'ci' }));
t.test('hostile HTTP paths and headers', (t) => httpInput(t, { rounds: 1, mode: 'ci' }));
