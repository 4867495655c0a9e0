/** The long link runs (npm run reliability): a 30-s broker outage, 15 flaps, 30 kills during set-config. */
import t from 'tap';
import { brokerOutages } from './scenarios/broker.js';
import { setConfigKill } from './scenarios/setConfigKill.js';

t.setTimeout(20 * 60_000);
t.test('broker down 30 s, agent restarted meanwhile, 15 flaps', (t) =>
  brokerOutages(t, { downMs: 30_000, flaps: 15, mode: 'long' }),
);
t.test('kill -9 right after set-config, 30 times', (t) => setConfigKill(t, { times: 30, mode: 'long' }));
