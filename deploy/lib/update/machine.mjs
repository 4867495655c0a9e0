// The board-side update, one step after the other (README "Updates: the steps"). Every step first
// records in the state file where it is, so a run that dies anywhere (kill -9, a power cut) is
// finished by the next run: before the switch it starts the download again; from the switch on
// it goes back to the release that was running. All file, network and service work goes through
// `ops` (ops.mjs on a board, fakes in tests and in the fleet simulation).

/** States after which nothing is left to do. */
export const FINAL = new Set(['done', 'rolled-back', 'failed']);

/** Durations; the defaults are the contract's (120 s to become healthy, then 60 s without a restart). */
export const DEFAULT_SETTINGS = { gateSeconds: 120, stableSeconds: 60, rollbackSeconds: 30, pollMs: 500 };

/**
 * One run of the updater: finishes an update a previous run left half-done, then takes the
 * agent's request if there is one. Returns the last state written (or read).
 */
export async function runUpdater(ops, settings = DEFAULT_SETTINGS) {
  const run = new UpdateRun(ops, { ...DEFAULT_SETTINGS, ...settings });
  let state = await ops.readState();
  if (state && !FINAL.has(state.state)) state = await run.resume(state);
  else if (state) await run.tidy(state);
  const taken = await ops.takeRequest();
  if (!taken) return state;
  // A run killed after recording the request and before removing it: the same attempt, already handled.
  if (state && taken.request?.attempt !== undefined && taken.request.attempt === state.attempt) {
    await ops.removeRequest();
    return state;
  }
  return run.start(taken);
}

class UpdateRun {
  constructor(ops, settings) {
    this.ops = ops;
    this.settings = settings;
  }

  async write(state) {
    await this.ops.writeState(state);
    this.ops.log(`${state.state}${state.version ? ` ${state.version}` : ''}${state.reason ? `: ${state.reason}` : ''}`);
    return state;
  }

  /** Step 1: check the request (the signature against the board's own keys) and record it. */
  async start({ request, problem }) {
    const version = typeof request?.manifest?.version === 'string' ? request.manifest.version.slice(0, 64) : null;
    const links = await this.ops.links();
    const refusal = problem ?? (await this.requestProblem(request, links));
    if (refusal) {
      await this.ops.removeRequest();
      return this.write({ state: 'failed', version, reason: refusal, attempt: request?.attempt ?? null });
    }
    const state = await this.write({
      state: 'downloading',
      version,
      reason: null,
      attempt: request.attempt,
      manifest: request.manifest,
      sig: request.sig,
      url: request.url,
      gate: { cameras: request.gate?.cameras ?? [], mqtt: request.gate?.mqtt === true },
    });
    this.ops.failpoint('update.taken');
    await this.ops.removeRequest();
    return this.forward(state);
  }

  async requestProblem(request, links) {
    const problem = this.ops.requestProblem(request);
    if (problem) return problem;
    let keys;
    try {
      keys = await this.ops.trustedKeys();
    } catch (error) {
      return error.message;
    }
    if (!this.ops.signedByAny(request.manifest, request.sig, keys))
      return 'the release signature does not match any key in /etc/edge-agent/release-keys';
    const arch = this.ops.machineArch();
    if (request.manifest.arch !== arch) return `the release is for ${request.manifest.arch}, this board is ${arch}`;
    if (!links.current)
      return 'no release is installed here (no /opt/edge-agent/current): install one with install.sh first';
    if (links.current === `releases/${request.manifest.version}`)
      return `version ${request.manifest.version} is already running`;
    return null;
  }

  /** Steps 2-4 (download, verify, unpack), then 5-7 (switch, restart, gate). */
  async forward(state) {
    const { manifest, version } = state;
    try {
      if (state.state !== 'downloading') state = await this.write({ ...state, state: 'downloading' });
      const file = await this.ops.download(state.url, manifest, version);
      this.ops.failpoint('update.downloaded');
      state = await this.write({ ...state, state: 'verifying' });
      const problem = await this.ops.checkDownload(file, manifest);
      if (problem) throw new Error(problem);
      await this.ops.unpack(file, manifest);
      this.ops.failpoint('update.unpacked');
    } catch (error) {
      await this.ops.discard(version);
      return this.write({ ...state, state: 'failed', reason: error.message });
    }
    const links = await this.ops.links();
    state = await this.write({
      ...state,
      state: 'switching',
      direction: 'forward',
      from: links.current,
      fromPrevious: links.previous ?? null,
    });
    this.ops.failpoint('update.switching');
    try {
      await this.ops.setLinks({ current: `releases/${version}`, previous: links.current });
      this.ops.failpoint('update.switched');
      await this.ops.removeHealth();
      const switchedAt = this.ops.now();
      const { gateSeconds, stableSeconds } = this.settings;
      state = await this.write({
        ...state,
        state: 'verifying-health',
        switchedAt,
        gate: { ...state.gate, gateSeconds, stableSeconds, deadline: switchedAt + gateSeconds * 1000 },
      });
      const verdict = await this.gate(state);
      if (!verdict.ok) return this.rollBack(state, verdict.reason);
    } catch (error) {
      return this.rollBack(state, `switching failed: ${error.message}`);
    }
    state = await this.write({ ...state, state: 'done', reason: null });
    this.ops.failpoint('update.done');
    await this.ops.finish(version);
    return state;
  }

  /** Step 6: restart onto the new release; it must say it is healthy in time, then not restart for a while. */
  async gate(state) {
    const { stableSeconds, pollMs } = this.settings;
    const restarted = await this.ops.restart(this.settings.gateSeconds);
    this.ops.failpoint('update.restarted');
    if (!restarted.ok) return { ok: false, reason: `the new agent did not start: ${restarted.message}` };
    const base = await this.ops.status();
    let passedAt = null;
    let passedPid = null;
    for (;;) {
      const now = this.ops.now();
      const st = await this.ops.status();
      if (st.NRestarts > base.NRestarts)
        return {
          ok: false,
          reason: `the new agent restarted ${st.NRestarts - base.NRestarts} time(s) (crash at start?)`,
        };
      if (st.ActiveState === 'failed' || st.ActiveState === 'inactive')
        return { ok: false, reason: `the new agent is not running (${st.ActiveState})` };
      const health = await this.ops.readHealth();
      if (health?.attempt === state.attempt && passedAt === null) {
        if (health.state === 'failed')
          return { ok: false, reason: `health gate: ${String(health.reason).slice(0, 300)}` };
        if (health.state === 'passed') {
          passedAt = now;
          passedPid = st.MainPID;
          this.ops.log(`health gate passed; watching ${stableSeconds} s for restarts`);
        }
      }
      if (passedAt !== null) {
        if (st.MainPID !== passedPid)
          return { ok: false, reason: `the new agent restarted within ${stableSeconds} s of passing its health gate` };
        if (now - passedAt >= stableSeconds * 1000) return { ok: true };
      } else if (now > state.gate.deadline + Math.min(5000, state.gate.gateSeconds * 250)) {
        return { ok: false, reason: `the new agent gave no health verdict within ${state.gate.gateSeconds} s` };
      }
      await this.ops.sleep(pollMs);
    }
  }

  /** Step 7: back to the release that ran before, restarted; the failed one is removed. */
  async rollBack(state, reason) {
    state = await this.write({ ...state, state: 'switching', direction: 'back', reason });
    this.ops.failpoint('update.rolling-back');
    await this.ops.setLinks({ current: state.from, previous: state.fromPrevious });
    const restarted = await this.ops.restart(this.settings.rollbackSeconds);
    let note = restarted.ok ? '' : ` (restarting the previous release failed too: ${restarted.message})`;
    if (restarted.ok && !(await this.cameBack()))
      note = ` (the previous release is not active within ${this.settings.rollbackSeconds} s either)`;
    state = await this.write({ ...state, state: 'rolled-back', reason: `${reason}${note}` });
    await this.ops.discard(state.version, { release: true });
    return state;
  }

  async cameBack() {
    const until = this.ops.now() + this.settings.rollbackSeconds * 1000;
    for (;;) {
      const st = await this.ops.status();
      if (st.ActiveState === 'active') return true;
      if (this.ops.now() > until) return false;
      await this.ops.sleep(this.settings.pollMs);
    }
  }

  /** The housekeeping after a final state, again: the run that wrote it may have died before it (idempotent). */
  async tidy(state) {
    if (!state.version) return;
    if (state.state === 'done') await this.ops.finish(state.version);
    // Downloads and half-unpacked folders only: the release folder may be one installed by hand since.
    else await this.ops.discard(state.version);
  }

  /** A run found a state that is not final: the previous run died in the middle of it. */
  resume(state) {
    const interrupted = `the update was interrupted (power loss or kill) during ${state.state}`;
    this.ops.log(`resuming an update left in state ${state.state}`);
    switch (state.state) {
      case 'downloading':
      case 'verifying':
        return this.forward(state);
      case 'switching':
        return this.rollBack(state, state.direction === 'back' ? state.reason : interrupted);
      case 'verifying-health':
        return this.rollBack(state, interrupted);
      default:
        return this.write({ ...state, state: 'failed', reason: `unknown update state ${JSON.stringify(state.state)}` });
    }
  }
}
