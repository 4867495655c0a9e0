import path from 'node:path';
import type { AgentConfig, CameraConfig } from '../../agent/config/types.js';

/** A 320x240@15 test-pattern camera and the config slice a CameraSupervisor reads, under `dir`. */
export function supervisorSetup(dir: string, archiveSeconds: number): { camera: CameraConfig; config: AgentConfig } {
  const camera = { id: 'cam1', source: 'test', width: 320, height: 240, fps: 15 } as CameraConfig;
  const config = {
    cameras: [camera],
    encoder: { prefer: 'auto', bitrateKbps: 400 },
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 4 },
    archive: { dir: path.join(dir, 'archive'), segmentSeconds: archiveSeconds, maxAgeHours: 168, minFreePercent: 1 },
    dataDir: path.join(dir, 'data'),
  } as unknown as AgentConfig;
  return { camera, config };
}
