/** Fakes of our own module boundaries (PipelineControl, ArchiveCatalog) and a config for HTTP and health tests. */
import { realpath, readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { isLoopback, splitHostPort } from '../../../agent/config/checks.js';
import type { AgentConfig } from '../../../agent/config/types.js';
import type {
  ArchiveCatalog,
  ArchiveEntry,
  CameraStats,
  PipelineControl,
  Snapshot,
} from '../../../agent/contract/services.js';
import { agentConfig } from '../../helpers/config.js';

/** The config of the HTTP and health tests: the given folders and 320x240 test cameras. */
export function testConfig(opts: {
  archiveDir: string;
  hlsDir: string;
  cameras?: string[];
  listen?: string;
}): AgentConfig {
  const listen = opts.listen ?? '127.0.0.1:0';
  // Off loopback the agent requires a token file; these tests hand the token itself to the server.
  return agentConfig({
    device: { id: 'test-board' },
    cameras: (opts.cameras ?? ['cam1']).map((id) => ({ id, source: 'test', width: 320, height: 240, fps: 15 })),
    hls: { dir: opts.hlsDir },
    archive: { dir: opts.archiveDir },
    http: { listen, tokenFile: isLoopback(splitHostPort(listen)?.host ?? '') ? null : '/etc/edge-agent/http-token' },
    dataDir: opts.archiveDir,
  });
}

/** A running camera with a fresh frame. */
export function runningCamera(camera: string, over: Partial<CameraStats> = {}): CameraStats {
  return {
    camera,
    state: 'running',
    encoder: 'libx264',
    source: 'test',
    fps: 15,
    droppedFrames: 0,
    restarts: 0,
    lastFrameAgeSeconds: 0.2,
    recordingSince: '2026-11-01T10:00:00.000Z',
    lastError: null,
    ...over,
  };
}

/** PipelineControl whose stats a test sets directly. */
export class FakePipeline implements PipelineControl {
  constructor(
    public cameras: CameraStats[],
    private readonly hlsRoot: string,
  ) {}
  stats(): CameraStats[] {
    return this.cameras;
  }
  async restart(camera?: string): Promise<string[]> {
    return camera ? [camera] : this.cameras.map((c) => c.camera);
  }
  async snapshot(): Promise<Snapshot> {
    throw new Error('not used');
  }
  hlsDir(camera: string): string {
    return join(this.hlsRoot, camera);
  }
}

/** ArchiveCatalog over a real tree, listing every .mp4 newest first by name. */
export class FakeCatalog implements ArchiveCatalog {
  lastQuery: { camera?: string; limit?: number } | null = null;
  constructor(
    private readonly root: string,
    private readonly analyses: (file: string) => Promise<object | null> = async () => null,
  ) {}
  analysis(file: string): Promise<object | null> {
    return this.analyses(file);
  }
  async list(query: { camera?: string; limit?: number }): Promise<ArchiveEntry[]> {
    this.lastQuery = query;
    const out: ArchiveEntry[] = [];
    for (const camera of await readdir(this.root).catch(() => [])) {
      if (query.camera && camera !== query.camera) continue;
      for (const date of await readdir(join(this.root, camera)).catch(() => [])) {
        for (const file of await readdir(join(this.root, camera, date)).catch(() => [])) {
          if (!/^archive_.*\.mp4$/.test(file)) continue;
          const st = await stat(join(this.root, camera, date, file));
          const m = /archive_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(file);
          const start = m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : '';
          out.push({
            camera,
            file: `${camera}/${date}/${file}`,
            start,
            seconds: 4,
            bytes: st.size,
            analysed: file.includes('T10'),
            clockSynced: true,
          });
        }
      }
    }
    out.sort((a, b) => b.start.localeCompare(a.start));
    return out.slice(0, query.limit ?? 50);
  }
  async resolve(file: string): Promise<string | null> {
    const full = resolve(this.root, file);
    if (!full.startsWith(this.root + sep)) return null;
    try {
      await stat(full);
      return full;
    } catch {
      return null;
    }
  }
}

/** A buggy catalog that resolves every name to a file outside the tree: the server must not trust it. */
export class CarelessCatalog extends FakeCatalog {
  constructor(
    root: string,
    private readonly outside: string,
  ) {
    super(root);
  }
  override async resolve(): Promise<string | null> {
    return realpath(this.outside).catch(() => null);
  }
}
