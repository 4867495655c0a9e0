/** Starts test/helpers/linkHarness.ts in a child process and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../../agent/config/types.js';
import type { AgentEventType, AgentEvents } from '../../agent/contract/events.js';
import type { HarnessInput } from './linkHarness.js';
import { waitFor } from './waitFor.js';

/** The harness's answer to `state`. */
export interface HarnessState {
  config: AgentConfig;
  sets: unknown[];
  link: { connected: boolean; protocolVersion: number; connects: number };
  outbox: { depth: number; dropped: number };
}

/** A running link process. */
export class LinkProcess {
  readonly child: ChildProcess;
  stderr = '';
  private connectedCount = 0;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.on('message', (message: { op: string }) => {
      if (message.op === 'connected') this.connectedCount += 1;
    });
  }

  /** Forks the harness with `input` and waits for it to be started (not yet connected). */
  static async start(dir: string, input: HarnessInput): Promise<LinkProcess> {
    const file = join(dir, `harness-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(input));
    const child = fork(join(import.meta.dirname, 'linkHarness.ts'), [file], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', process.env.HARNESS_STDOUT ? 'inherit' : 'ignore', 'pipe', 'ipc'],
    });
    const link = new LinkProcess(child);
    LinkProcess.live.add(child);
    child.once('exit', () => LinkProcess.live.delete(child));
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`harness exited ${code}: ${link.stderr}`)));
      child.on('message', (message: { op: string }) => message.op === 'ready' && resolve());
    });
    return link;
  }

  /** Resolves once the link has connected `count` times in total. */
  async connected(count = 1, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      () => `link connection ${count}: ${this.stderr}`,
      () => {
        if (this.child.exitCode !== null) throw new Error(`harness exited: ${this.stderr}`);
        return this.connectedCount >= count;
      },
      timeoutMs,
      20,
    );
  }

  /** Emits a bus event inside the link process. */
  emit<K extends AgentEventType>(type: K, payload: AgentEvents[K]): void {
    this.child.send({ op: 'emit', type, payload });
  }

  /** Hands an analysis result to the publisher. */
  analysis(result: Record<string, unknown>): void {
    this.child.send({ op: 'analysis', result });
  }

  /** The link's view: config, status, outbox. */
  async state(): Promise<HarnessState> {
    return new Promise((resolve) => {
      const onMessage = (message: { op: string } & HarnessState) => {
        if (message.op !== 'state') return;
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
      this.child.send({ op: 'state' });
    });
  }

  /** Clean stop (SIGTERM) and the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    return exited;
  }

  /** kill -9. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }

  private static live = new Set<ChildProcess>();

  static {
    process.once('exit', () => {
      for (const child of LinkProcess.live) child.kill('SIGKILL');
    });
  }
}
