/**
 * What every update test file sets up once: a Mosquitto, a release server, the operator's key,
 * release 1.0.0 unpacked and the file's own releases packed and signed, all under one work tree.
 */
import { existsSync } from 'node:fs';
import { generateKeyPairSync, type KeyPairKeyObjectResult } from 'node:crypto';
import path from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './agentProcess.js';
import { Mosquitto } from './mosquitto.js';
import {
  craftRelease,
  packRelease,
  ReleaseServer,
  runningBoard,
  type ReleaseKind,
  type SignedRelease,
} from './updateBoard.js';

export interface UpdateRig {
  /** Why the file cannot run here (the agent in dist/ is what a release holds), or false. */
  skip: string | false;
  work: string;
  server: ReleaseServer;
  broker: Mosquitto;
  /** The operator's key: every board of the file trusts it, every release is signed with it. */
  operator: KeyPairKeyObjectResult;
  /** The packed, signed releases by version (filled in by the file's t.before). */
  releases: Record<string, SignedRelease>;
  /** A board running 1.0.0, online, its commands subscribed, recording; a watcher on its tree. */
  boardOn1(t: Test, id: string): ReturnType<typeof runningBoard>;
}

/** Starts the broker and the server before the file's tests (stopped after), packing `pack`. */
export function updateRig(tap: Test, pack: ReadonlyArray<readonly [version: string, kind: ReleaseKind]>): UpdateRig {
  const skip = existsSync(path.join(ROOT, 'dist/agent/cli.js')) ? false : 'run npm run build first';
  const work = tap.testdir({ releases: {}, broker: {}, boards: {} });
  const server = new ReleaseServer();
  const broker = new Mosquitto({ dir: path.join(work, 'broker') });
  const operator = generateKeyPairSync('ed25519');
  const releases: Record<string, SignedRelease> = {};
  let v1 = '';
  tap.before(async () => {
    if (skip) return;
    await server.start();
    await broker.start();
    const out = path.join(work, 'releases');
    v1 = craftRelease(out, '1.0.0');
    for (const [version, kind] of pack)
      releases[version] = await packRelease(craftRelease(out, version, kind), operator.privateKey);
  });
  tap.teardown(async () => {
    await server.stop();
    await broker.stop();
  });
  return {
    skip,
    work,
    server,
    broker,
    operator,
    releases,
    // Not t.testdir(): tap removes that before the teardown has stopped the agent writing in it.
    boardOn1: (t, id) =>
      runningBoard(t, {
        dir: path.join(work, 'boards', id),
        brokerUrl: broker.url,
        keys: operator,
        id,
        rel: v1,
        version: '1.0.0',
      }),
  };
}
