import { AgentError } from '../contract/errors.js';
import type { CameraConfig } from '../config/types.js';
import type { CameraStats, PipelineControl, Snapshot } from '../contract/services.js';
import { redactSecrets } from '../util/redact.js';
import type { CameraSupervisor } from './supervisor.js';
import { jpegSize, snapshotFromHls } from './snapshot.js';

/**
 * A configured camera before its supervisor exists (while start-up detects encoders): it is
 * there, being started, so R/health and the page list it from the first message on.
 */
export function notYetStarted(camera: CameraConfig): CameraStats {
  return {
    camera: camera.id,
    state: 'starting',
    encoder: null,
    source: redactSecrets(camera.source),
    fps: 0,
    droppedFrames: 0,
    restarts: 0,
    lastFrameAgeSeconds: null,
    recordingSince: null,
    lastError: null,
    supervised: true,
  };
}

/** All cameras' supervisors behind the one PipelineControl interface other modules use. */
export class PipelineManager implements PipelineControl {
  constructor(private readonly supervisors: Map<string, CameraSupervisor>) {}

  /** Starts every camera (each recovers its own leftovers first). */
  async start(): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((s) => s.start()));
  }

  /** Settles once every camera's first run has spawned FFmpeg or ended without it (CameraSupervisor.underWay). */
  async underWay(): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((s) => s.underWay()));
  }

  /** Stops every camera cleanly, finishing the archives being written. */
  async stop(): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((s) => s.stop()));
  }

  /**
   * Stops and rebuilds only the named cameras (added, removed or edited); the others keep
   * recording untouched. `make` returns null for a camera no longer configured.
   */
  async replace(ids: string[], make: (id: string) => Promise<CameraSupervisor | null>, order: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.supervisors.get(id)?.stop()));
    const fresh = new Map<string, CameraSupervisor>();
    for (const id of ids) {
      const supervisor = await make(id);
      if (supervisor) fresh.set(id, supervisor);
    }
    // Keep the config's order, which is the order stats and the status page show.
    const rebuilt = new Map<string, CameraSupervisor>();
    for (const id of order) {
      const supervisor = fresh.get(id) ?? (ids.includes(id) ? undefined : this.supervisors.get(id));
      if (supervisor) rebuilt.set(id, supervisor);
    }
    this.supervisors.clear();
    for (const [id, supervisor] of rebuilt) this.supervisors.set(id, supervisor);
    await Promise.all([...fresh.values()].map((s) => s.start()));
  }

  stats(): CameraStats[] {
    return [...this.supervisors.values()].map((s) => s.stats());
  }

  async restart(camera?: string): Promise<string[]> {
    const ids = camera === undefined ? [...this.supervisors.keys()] : [this.supervisor(camera) && camera];
    await Promise.all(ids.map((id) => this.supervisor(id).restart('restart requested')));
    return ids;
  }

  async snapshot(camera?: string): Promise<Snapshot> {
    const id = camera ?? [...this.supervisors.keys()][0];
    if (id === undefined) throw new AgentError('not_found', 'no camera is configured');
    const jpeg = await snapshotFromHls(this.supervisor(id).hlsDir);
    const size = jpegSize(jpeg) ?? { width: 0, height: 0 };
    return { camera: id, jpeg, ...size, ts: new Date().toISOString() };
  }

  hlsDir(camera: string): string {
    return this.supervisor(camera).hlsDir;
  }

  private supervisor(camera: string): CameraSupervisor {
    const supervisor = this.supervisors.get(camera);
    if (!supervisor)
      throw new AgentError(
        'not_found',
        `no camera '${camera}'; cameras are: ${[...this.supervisors.keys()].join(', ')}`,
      );
    return supervisor;
  }
}
