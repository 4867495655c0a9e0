/** The CI version of the outside-fuzzer scenario (issue 15 item 4): a few hundred mutations, under ~40 s. */
import t from 'tap';
import { findMutator, NO_MUTATOR } from '../reliability/lib/mutator.js';
import { outsideFuzz } from '../reliability/scenarios/outsideFuzz.js';

const mutator = findMutator();

t.test(
  'outside fuzzer: mutated MQTT commands, config files and HTTP requests',
  { skip: mutator ? false : NO_MUTATOR },
  (t) => outsideFuzz(t, mutator!, { mqtt: 240, config: 150, http: 150, mode: 'ci' }),
);
