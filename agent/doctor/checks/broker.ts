import { fail, ok, type CheckResult, type DoctorContext } from '../types.js';
import { checkEmbeddedLogin } from './embeddedBroker.js';

/** The URL without user:password, for the report. */
function shown(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/** Hints per failure: what the message most often means on a board. */
function fixFor(message: string): string {
  if (/ECONNREFUSED/i.test(message))
    return 'nothing listens there: check mqtt.url (host, port 1883/8883), the broker service and firewalls';
  if (/ENOTFOUND|EAI_AGAIN/i.test(message)) return "the host name does not resolve: check mqtt.url and the board's DNS";
  if (/not authori[sz]ed|bad user ?name or password/i.test(message)) {
    return 'the broker refused the login: check mqtt.username and /etc/edge-agent-credentials/mqtt-password, then re-run install.sh';
  }
  if (/certificate|self.signed|TLS|SSL/i.test(message))
    return "TLS failed: check mqtt.ca (the broker's CA), mqtt.cert/mqtt.key and the board's clock";
  if (/timed? ?out/i.test(message))
    return 'no answer in time: check the network path to the broker (firewall, VPN) and mqtt.url';
  return 'check mqtt.url, credentials and TLS settings';
}

/** The configured broker accepts a connection with the configured credentials (the embedded one: the technicians' login). */
export async function checkBroker(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'broker';
  const { url } = ctx.config.mqtt;
  if (url === 'embedded') return checkEmbeddedLogin(ctx);
  try {
    await ctx.mqttConnect(ctx.config, ctx.credentials, ctx.timeoutMs);
    const who = ctx.config.mqtt.username ? ` as ${ctx.config.mqtt.username}` : '';
    return ok(name, `connected to ${shown(url)}${who}`);
  } catch (error) {
    const message = (error as Error).message || String(error);
    return fail(name, `cannot connect to ${shown(url)}: ${message}`, fixFor(message));
  }
}
