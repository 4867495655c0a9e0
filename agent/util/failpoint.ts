/**
 * Crash points for the tests of the multi-step protocols (README "Archives and power cuts"):
 * with `EDGE_AGENT_FAILPOINT=<name>` in its environment the agent kills itself with SIGKILL when
 * it reaches that step, as kill -9 or a power cut would at exactly that moment. Without it (always
 * on a board) a call costs one environment lookup.
 */
export function failpoint(name: string): void {
  if (process.env.EDGE_AGENT_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
