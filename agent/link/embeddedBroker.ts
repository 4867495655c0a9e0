/** `mqtt.url: "embedded"`: an aedes broker on loopback, so a fresh machine works without a broker. */
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../util/logger.js';
import { login, mayPublish, maySubscribe, type BrokerRole } from './brokerAcl.js';
import type { BrokerUsers } from './brokerUsers.js';

/** Who may log in and what they may do (brokerAcl.ts); null leaves the broker open (tests of other things only). */
export interface EmbeddedBrokerAuth {
  users: BrokerUsers;
  /** `R`: the topic root only the agent may publish under (commands aside). */
  root: string;
  /** The agent's MQTT client id, which no other client may take. */
  agentClientId: string;
}
import { PacketLimitStream } from './packetLimit.js';

/** What the embedded broker needs. */
export interface EmbeddedBrokerDeps {
  log: Logger;
  host?: string;
  port?: number;
  auth: EmbeddedBrokerAuth | null;
}

/** An in-process MQTT 3.1.1 broker (aedes has no MQTT 5) bound to 127.0.0.1:1883 by default. */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private readonly roles = new WeakMap<Client, BrokerRole>();

  constructor(private readonly deps: EmbeddedBrokerDeps) {}

  /** The URL a client connects to. */
  url(): string {
    return `mqtt://${this.deps.host ?? '127.0.0.1'}:${this.port()}`;
  }

  /** The bound port (the configured one until started). */
  port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : (this.deps.port ?? 1883);
  }

  /** Starts listening; rejects if the port is taken (another broker, or another agent). */
  async start(): Promise<void> {
    const broker = await Aedes.createBroker(this.hooks());
    // aedes has no packet size limit (moscajs/aedes#831) and buffers a whole packet before parsing
    // it: a client sending more than the cap is disconnected before its bytes pile up.
    const server = createServer((socket) => {
      const limited = new PacketLimitStream(socket, {
        mode: 'close',
        onOversized: (packet) =>
          this.deps.log.warn(
            { bytes: packet.bytes },
            'embedded broker closed a client sending a packet over the size limit',
          ),
      });
      limited.on('error', () => undefined);
      broker.handle(limited);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.deps.port ?? 1883, this.deps.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.broker = broker;
    this.server = server;
    this.deps.log.info({ url: this.url(), authenticated: this.deps.auth !== null }, 'embedded mqtt broker listening');
  }

  /** Closes the listener and the broker. */
  async stop(): Promise<void> {
    const { server, broker } = this;
    this.server = null;
    this.broker = null;
    // Broker first: it closes the client connections that server.close() would wait for.
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** aedes's authenticate / authorizePublish / authorizeSubscribe hooks over brokerAcl.ts. */
  private hooks() {
    const { auth, log } = this.deps;
    if (!auth) return {};
    return {
      authenticate: (
        client: Client,
        username: string | undefined,
        password: Buffer | undefined,
        done: (error: AuthenticateError | null, ok: boolean | null) => void,
      ) => {
        const result = login(auth.users, auth.agentClientId, client.id, username, password);
        if ('role' in result) {
          this.roles.set(client, result.role);
          done(null, true);
          return;
        }
        // The user name only, cut short: never the password, never unbounded input in the journal.
        log.warn(
          { clientId: String(client.id).slice(0, 64), username: username?.slice(0, 64), reason: result.reason },
          'embedded broker refused a login',
        );
        const error = Object.assign(new Error(`not authorised: ${result.reason}`), {
          returnCode: result.refused,
        }) as AuthenticateError;
        done(error, false);
      },
      authorizePublish: (
        client: Client | null,
        packet: { topic: string; retain: boolean },
        done: (error?: Error | null) => void,
      ) => {
        // client null: the broker's own messages ($SYS).
        if (client === null || mayPublish(this.roles.get(client), auth.root, packet.topic, packet.retain)) {
          done(null);
          return;
        }
        log.warn(
          { clientId: String(client.id).slice(0, 64), topic: packet.topic.slice(0, 200) },
          'embedded broker refused a publish',
        );
        done(new Error(`not authorised to publish to ${packet.topic.slice(0, 200)}`));
      },
      authorizeSubscribe: <S>(
        client: Client,
        subscription: S,
        done: (error: Error | null, subscription?: S | null) => void,
      ) => {
        if (maySubscribe(this.roles.get(client))) done(null, subscription);
        else done(new Error('not authorised to subscribe'));
      },
    };
  }
}
