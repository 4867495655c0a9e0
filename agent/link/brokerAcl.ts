/**
 * The embedded broker's access rules, as pure functions (issue 15 item 2), in the spirit of a
 * Mosquitto ACL file:
 *
 *   user edge-agent      topic readwrite #
 *   user technician      topic read #; write R/cmd/+ (never retained), R/config/desired,
 *                        R/release/desired, and
 *                        anything outside R/ (reply topics, a bridge's own topics)
 *   (no user name)       topic read #: a local reader (the broker listens on 127.0.0.1 only),
 *                        so status, health and events can be watched on a fresh board with a
 *                        plain mosquitto_sub, as the contract's zero-config default promises;
 *                        it may publish nothing, so no command or config change without a login
 *   (wrong login)        no connection at all
 *
 * R = <mqtt.topicPrefix>/<device.id>. `R/config/desired` is the back end's input, as powerful as
 * `set-config` and checked the same way, so whoever may send commands may write it; so is
 * `R/release/desired` for `update`.
 */
import type { BrokerLogin, BrokerUsers } from './brokerUsers.js';
import { samePassword } from './brokerUsers.js';

/** Who a connected client is. */
export type BrokerRole = 'agent' | 'technician' | 'reader';

/** MQTT 3.1.1 CONNACK return codes aedes passes on. */
export const CONNACK = { identifierRejected: 2, badLogin: 4, notAuthorized: 5 } as const;

/** The outcome of a CONNECT: a role, or the CONNACK code and a reason for the log. */
export type LoginResult = { role: BrokerRole } | { refused: number; reason: string };

const matches = (login: BrokerLogin, username: string | undefined, password: Buffer | undefined): boolean =>
  username === login.username && samePassword(password, login.password);

/**
 * Checks a CONNECT. The technician may not take the agent's client id: the broker would drop the
 * agent's session for it (MQTT takeover) and fire the agent's offline will.
 */
export function login(
  users: BrokerUsers,
  agentClientId: string,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
): LoginResult {
  if (username === undefined) {
    if (clientId === agentClientId) return { refused: CONNACK.identifierRejected, reason: "the agent's client id" };
    return { role: 'reader' };
  }
  if (matches(users.agent, username, password)) return { role: 'agent' };
  if (matches(users.technician, username, password)) {
    if (clientId === agentClientId) return { refused: CONNACK.identifierRejected, reason: "the agent's client id" };
    return { role: 'technician' };
  }
  return { refused: CONNACK.badLogin, reason: 'bad user name or password' };
}

/** Whether `role` may publish to `topic` (retained or not) on the broker of the device with root `root`. */
export function mayPublish(role: BrokerRole | undefined, root: string, topic: string, retain: boolean): boolean {
  if (role === 'agent') return true;
  if (role !== 'technician') return false;
  if (topic.startsWith('$')) return false;
  if (topic !== root && !topic.startsWith(`${root}/`)) return true;
  if (topic === `${root}/config/desired` || topic === `${root}/release/desired`) return true;
  // A retained command would run again at every subscribe of the agent (every reconnect).
  return topic.startsWith(`${root}/cmd/`) && !retain;
}

/** Whether `role` may subscribe: every client let in may read (status, health, events, replies). */
export function maySubscribe(role: BrokerRole | undefined): boolean {
  return role === 'agent' || role === 'technician' || role === 'reader';
}
