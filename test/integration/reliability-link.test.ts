/** The CI versions of the broker and set-config scenarios (test/reliability/link.test.ts runs them longer). */
import t from 'tap';
import { brokerOutages } from '../reliability/scenarios/broker.js';
import { setConfigKill } from '../reliability/scenarios/setConfigKill.js';

t.test('broker down, agent restarted meanwhile, flapping: every archive event once', (t) =>
  brokerOutages(t, { downMs: 8000, flaps: 4, mode: 'ci' }),
);
t.test('kill -9 right after set-config: the config file is old or new, whole, valid', (t) =>
  setConfigKill(t, { times: 6, mode: 'ci' }),
);
