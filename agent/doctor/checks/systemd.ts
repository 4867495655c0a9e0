import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

const UNIT = 'edge-agent.service';
const LOGS = 'journalctl -u edge-agent -b --no-pager | tail -50';

function parseShow(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The unit's state, its watchdog setting and how often systemd had to restart it. */
export async function checkSystemd(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'systemd';
  if (!ctx.hasCommand('systemctl')) return ok(name, 'no systemctl here (not a systemd system): skipped');
  let props: Record<string, string>;
  try {
    const r = await ctx.run(
      'systemctl',
      ['show', UNIT, '-p', 'LoadState,ActiveState,SubState,Result,NRestarts,WatchdogUSec,UnitFileState'],
      { timeoutMs: 5000 },
    );
    if (r.code !== 0)
      return warn(
        name,
        `systemctl did not answer: ${r.stderr.trim().split('\n')[0]}`,
        'run doctor on the board itself (not in a container)',
      );
    props = parseShow(r.stdout);
  } catch (error) {
    return warn(name, `systemctl did not answer: ${(error as Error).message}`, 'run doctor on the board itself');
  }
  if (props.LoadState === 'not-found') return warn(name, `${UNIT} is not installed`, 'sudo deploy/install.sh');
  const restarts = Number(props.NRestarts ?? 0);
  const watchdog =
    props.WatchdogUSec && props.WatchdogUSec !== '0' && props.WatchdogUSec !== 'infinity'
      ? `watchdog ${props.WatchdogUSec}`
      : 'no watchdog';
  const detail = `${props.ActiveState}/${props.SubState}, ${props.UnitFileState ?? 'unknown'}, ${watchdog}, ${restarts} restart(s), last result ${props.Result}`;
  if (props.ActiveState === 'failed')
    return fail(
      name,
      detail,
      `read why: ${LOGS}; then sudo systemctl reset-failed edge-agent && sudo systemctl start edge-agent`,
    );
  if (props.ActiveState !== 'active' && props.ActiveState !== 'activating' && props.ActiveState !== 'reloading') {
    return warn(name, detail, 'sudo systemctl enable --now edge-agent');
  }
  if (props.Result === 'watchdog' || restarts > 0) {
    return warn(name, detail, `systemd restarted the agent (a stalled pipeline stops the watchdog pings): ${LOGS}`);
  }
  if (watchdog === 'no watchdog')
    return warn(name, detail, 'the installed unit lacks WatchdogSec=: re-run deploy/install.sh');
  return ok(name, detail);
}
