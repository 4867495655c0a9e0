import t from 'tap';
import { encodeSettings } from '../../../agent/config/encodeSettings.js';
import { agentConfig } from '../../helpers/config.js';

t.test("a camera's size and rate, the configured bitrate, a keyframe per HLS segment", async (t) => {
  const config = agentConfig({ encoder: { bitrateKbps: 1800 }, hls: { segmentSeconds: 2 } });
  t.same(encodeSettings(config, { width: 640, height: 480, fps: 15 }), {
    width: 640,
    height: 480,
    fps: 15,
    bitrateKbps: 1800,
    keyframeSeconds: 2,
  });
  t.same(
    encodeSettings(config),
    { width: 1280, height: 720, fps: 30, bitrateKbps: 1800, keyframeSeconds: 2 },
    'no camera: the contract defaults (probe and doctor with no camera configured)',
  );
});
