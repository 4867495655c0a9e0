/** `mqtt.url: "embedded"`: an aedes broker on loopback, so a fresh machine works without a broker. */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../util/logger.js';
import { PacketLimitStream } from './packetLimit.js';

/** What the embedded broker needs. */
export interface EmbeddedBrokerDeps {
  log: Logger;
  host?: string;
  port?: number;
}

/** An in-process MQTT 3.1.1 broker (aedes has no MQTT 5) bound to 127.0.0.1:1883 by default. */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;

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
    const broker = await Aedes.createBroker();
    // aedes has no packet size limit (moscajs/aedes#831) and buffers a whole packet before parsing
    // it: a client sending more than the cap is disconnected before its bytes pile up.
    const server = createServer((socket) => {
      const limited = new PacketLimitStream(socket, {
        mode: 'close',
        onOversized: (packet) => this.deps.log.warn({ bytes: packet.bytes }, 'embedded broker closed a client sending a packet over the size limit'),
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
    this.deps.log.info({ url: this.url() }, 'embedded mqtt broker listening');
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
}
