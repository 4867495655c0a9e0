import path from 'node:path';
import type { AgentConfig, CameraConfig } from '../../agent/config/types.js';
import { agentConfig } from './config.js';

/** A 320x240@15 test-pattern camera and a config for a CameraSupervisor of it, under `dir`. */
export function supervisorSetup(dir: string, archiveSeconds: number): { camera: CameraConfig; config: AgentConfig } {
  const config = agentConfig({
    cameras: [{ id: 'cam1', source: 'test', width: 320, height: 240, fps: 15 }],
    encoder: { bitrateKbps: 400 },
    hls: { dir: path.join(dir, 'hls'), listSize: 4 },
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: archiveSeconds, minFreePercent: 1 },
    dataDir: path.join(dir, 'data'),
  });
  return { camera: config.cameras[0]!, config };
}
