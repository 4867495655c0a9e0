/**
 * A board for the updater's state machine (deploy/lib/update/machine.mjs) with every file,
 * network and service operation faked in memory and time virtual: `sleep` moves the board's
 * clock on at once. The agent it "restarts" behaves as told: healthy (passes its gate after
 * `startMs`), crash (never active), silent (active, never passes), flaky (passes, then restarts).
 * Unit tests drive single runs; the fleet simulation runs many boards at once.
 */
import type {
  ReleaseManifest,
  ServiceStatus,
  UpdateOps,
  UpdateRequestFile,
  UpdateStateFile,
} from '../../deploy/lib/update/machine.mjs';
import { requestProblem } from '../../deploy/lib/update/ops.mjs';

/** How the fake agent of a release behaves once started. */
export type AgentBehaviour = 'healthy' | 'crash' | 'silent' | 'flaky';

/** A signature the fake board accepts, and one it refuses. */
export const GOOD_SIG = 'a'.repeat(128);
export const BAD_SIG = 'b'.repeat(128);

/** A manifest for `version` on x64. */
export function fakeManifest(version: string, size = 1000): ReleaseManifest {
  return { arch: 'x64', sha256: 'c'.repeat(64), size, version };
}

export class FakeUpdateBoard {
  now = 1_000_000;
  state: UpdateStateFile | null = null;
  request: UpdateRequestFile | null = null;
  links: { current: string | null; previous: string | null } = { current: 'releases/1.0.0', previous: null };
  releases = new Set(['1.0.0']);
  downloads = new Set<string>();
  knownGood: string | null = 'releases/1.0.0';
  health: { attempt?: string; state?: string; reason?: string } | null = null;
  /** Per version: how its agent behaves; unknown versions are healthy. */
  behaviour = new Map<string, AgentBehaviour>();
  download: 'ok' | 'truncated' | 'unreachable' = 'ok';
  readonly log: string[] = [];
  readonly states: string[] = [];
  /** The agent: which release runs, since when, its pid; null when it does not run. */
  agent: { version: string; since: number; pid: number } | null = { version: '1.0.0', since: 0, pid: 100 };
  restarts = 0;
  startMs = 3000;

  /** Puts a request where the agent would. */
  ask(version: string, options: { sig?: string; attempt?: string; cameras?: string[] } = {}): UpdateRequestFile {
    this.request = {
      attempt: options.attempt ?? `attempt-${version.replace(/\W/g, '-')}-${this.now}`,
      manifest: fakeManifest(version),
      sig: options.sig ?? GOOD_SIG,
      url: `http://releases.example/${version}.tar.gz`,
      gate: { cameras: options.cameras ?? ['cam1'], mqtt: true },
    };
    return this.request;
  }

  private running(): string | null {
    return this.links.current ? this.links.current.replace(/^releases\//, '') : null;
  }

  ops(): UpdateOps {
    return {
      log: (line) => this.log.push(line),
      now: () => this.now,
      sleep: async (ms) => {
        this.now += ms;
        await Promise.resolve();
      },
      // A kill is simulated by leaving a state behind and running again (see the unit tests).
      failpoint: () => undefined,
      readState: async () => (this.state ? structuredClone(this.state) : null),
      writeState: async (state) => {
        this.state = structuredClone(state);
        this.states.push(state.state);
      },
      takeRequest: async () => (this.request ? { request: structuredClone(this.request), problem: null } : null),
      removeRequest: async () => {
        this.request = null;
      },
      requestProblem,
      trustedKeys: async () => ['operator'],
      signedByAny: (_manifest, sig) => sig === GOOD_SIG,
      machineArch: () => 'x64',
      links: async () => ({ ...this.links }),
      setLinks: async ({ current, previous }) => {
        this.links = { current: current ?? null, previous: previous ?? null };
      },
      download: async (_url, _manifest, version) => {
        this.now += 200;
        if (this.download === 'unreachable')
          throw new Error('download from http://releases.example failed: ECONNREFUSED');
        this.downloads.add(version);
        return `download/${version}.tar.gz`;
      },
      checkDownload: async (_file, manifest) =>
        this.download === 'truncated'
          ? `downloaded ${manifest.size / 2} bytes, the manifest says ${manifest.size} (truncated?)`
          : null,
      unpack: async (_file, manifest) => {
        this.releases.add(manifest.version);
      },
      removeHealth: async () => {
        this.health = null;
      },
      readHealth: async () => this.verdict(),
      restart: async () => {
        const version = this.running();
        const behaviour = (version && this.behaviour.get(version)) ?? 'healthy';
        this.agent =
          version && behaviour !== 'crash' ? { version, since: this.now, pid: (this.agent?.pid ?? 100) + 1 } : null;
        return { ok: true, message: '' };
      },
      status: async (): Promise<ServiceStatus> => {
        this.flake();
        return this.agent
          ? { MainPID: this.agent.pid, NRestarts: this.restarts, ActiveState: 'active' }
          : { MainPID: 0, NRestarts: this.restarts, ActiveState: 'failed' };
      },
      finish: async (version) => {
        this.downloads.delete(version);
        if (this.links.current === `releases/${version}`) this.knownGood = this.links.current;
      },
      discard: async (version, options) => {
        this.downloads.delete(version);
        const link = `releases/${version}`;
        if (options?.release && this.links.current !== link && this.links.previous !== link)
          this.releases.delete(version);
      },
    };
  }

  /** The new agent's verdict: passed `startMs` after its start when healthy or flaky. */
  private verdict(): { attempt?: string; state?: string } | null {
    const agent = this.agent;
    const state = this.state;
    if (!agent || !state || state.state !== 'verifying-health' || agent.version !== state.version) return this.health;
    const behaviour = this.behaviour.get(agent.version) ?? 'healthy';
    if ((behaviour === 'healthy' || behaviour === 'flaky') && this.now - agent.since >= this.startMs)
      this.health = { attempt: state.attempt ?? undefined, state: 'passed' };
    return this.health;
  }

  /** A flaky agent is restarted by systemd 10 s after it started. */
  private flake(): void {
    const agent = this.agent;
    if (agent && this.behaviour.get(agent.version) === 'flaky' && this.now - agent.since > 10_000) {
      this.restarts += 1;
      this.agent = { ...agent, since: this.now, pid: agent.pid + 1 };
    }
  }
}
