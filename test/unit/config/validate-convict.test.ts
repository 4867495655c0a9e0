/**
 * Convict has the last word after validate.ts's own checks. It runs the same per-key checks
 * (every leaf's format is CHECK_FORMAT) and checkShape removed unknown keys first, so the real
 * convict does not disagree: these paths are reached with a convict made to throw. A file of its
 * own, outside the coverage map: a mocked import is a second copy of validate.ts, whose coverage
 * does not merge cleanly with the first.
 */
import t from 'tap';
import type { ConfigError } from '../../../agent/contract/errors.js';

t.test("convict's own verdict, when our checks pass, becomes lower-case problem lines", async (t) => {
  const schema = await import('../../../agent/config/schema.js');
  const validateWith = async (patch: (cfg: ReturnType<typeof schema.newConvict>) => void) =>
    (
      await t.mockImport<typeof import('../../../agent/config/validate.js')>('../../../agent/config/validate.js', {
        // tsx resolves validate.ts's import of ./schema.js to the .ts file: the mock is keyed by it.
        '../../../agent/config/schema.ts': {
          ...schema,
          newConvict: () => {
            const cfg = schema.newConvict();
            patch(cfg);
            return cfg;
          },
        },
      })
    ).validateConfig;
  const problems = (validate: (raw: unknown) => unknown): string[] => {
    try {
      validate({});
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  const disagrees = await validateWith((cfg) => {
    cfg.validate = () => {
      throw new Error('Hls.listSize: must be positive\nMqtt.url: must be a url');
    };
  });
  t.same(problems(disagrees), ['hls.listSize: must be positive', 'mqtt.url: must be a url']);

  const broken = await validateWith((cfg) => {
    cfg.load = () => {
      throw new Error('schema and values do not fit');
    };
  });
  t.same(problems(broken), ['config could not be validated: schema and values do not fit']);
});
