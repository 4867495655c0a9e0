import t from 'tap';
import {
  costsFor,
  estimateInputTokens,
  PROXY_WIDTH,
  sampledFrames,
  TOKENS_PER_FRAME,
} from '../../../agent/analysis/costs.js';
import { agentConfig } from '../../helpers/config.js';

t.test("costsFor: the global levers, overridden key by key by the camera's own", async (t) => {
  const config = agentConfig({
    analysis: { fps: 0.5, skipDuplicates: true },
    cameras: [
      { id: 'gate', source: 'test', analysis: { fps: 1, skipDuplicates: false } },
      { id: 'yard', source: 'test' },
    ],
  });
  t.same(costsFor(config, 'gate'), {
    fps: 1,
    resolution: 'low',
    skipDuplicates: false,
    duplicateMotion: 0.001,
    duplicateDistance: 8,
  });
  t.same(costsFor(config, 'yard'), {
    fps: 0.5,
    resolution: 'low',
    skipDuplicates: true,
    duplicateMotion: 0.001,
    duplicateDistance: 8,
  });
  t.same(
    costsFor(config, 'gone'),
    costsFor(config, 'yard'),
    'a camera no longer configured (an old job) gets the global levers',
  );
});

t.test('sampledFrames: one frame every 1/fps seconds from the start', async (t) => {
  const cases: [number, number, number][] = [
    [600, 0.25, 150],
    [600, 1, 600],
    [4, 0.25, 1],
    [3, 0.25, 1],
    [5, 0.25, 2],
    [0, 1, 1],
    [599.9, 0.25, 150],
  ];
  for (const [seconds, fps, frames] of cases)
    t.equal(sampledFrames(seconds, fps), frames, `${seconds} s at ${fps} fps`);
});

t.test(
  "estimateInputTokens: frames at the resolution's documented rate, audio, text at ~4 characters a token",
  async (t) => {
    t.same(TOKENS_PER_FRAME, { low: 66, medium: 258, high: 258 });
    t.equal(estimateInputTokens({ frames: 150, resolution: 'low' }), 9900, 'the default 10-minute clip: 0.25 fps, low');
    t.equal(estimateInputTokens({ frames: 600, resolution: 'low' }), 39600, '1 fps, low (before the levers)');
    t.equal(
      estimateInputTokens({ frames: 600, resolution: 'medium', audioSeconds: 600 }),
      600 * 258 + 600 * 32,
      "the API's defaults with sound",
    );
    t.equal(estimateInputTokens({ frames: 1, resolution: 'high', textChars: 10 }), 258 + 3);
    t.ok(
      PROXY_WIDTH.low < PROXY_WIDTH.medium && PROXY_WIDTH.medium <= PROXY_WIDTH.high,
      'the proxy grows with the resolution',
    );
  },
);
