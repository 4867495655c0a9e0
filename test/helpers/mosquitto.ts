/**
 * A real Mosquitto for integration tests: a free port picked first (`listener 0` does not pick
 * one), optional TLS with certificates made by openssl at test time, password file and ACL,
 * persistence so a persistent session survives a broker restart, and a stop that always ends it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './waitFor.js';

/** A free TCP port on loopback (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** File paths of the test PKI. */
export interface TestPki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate, with openssl. */
export function makePki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=edge-test-ca');
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'edge-test-client'],
  ] as const) {
    ssl('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    const ext = name === 'server' ? ['-extfile', p('server.ext')] : [];
    ssl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      ...ext,
    );
  }
  return {
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
}

/** What the broker should enforce. */
export interface MosquittoOptions {
  /** Working directory: config, persistence, log, PKI. */
  dir: string;
  /** Adds a TLS listener (client certificate required) next to the plain one. */
  tls?: boolean;
  /** The TLS listener's files, when the test makes its own (`ca` is the CA bundle client certificates are checked against). */
  pki?: TestPki;
  /** Adds a plain WebSocket listener (ws://127.0.0.1:<wsPort>). */
  ws?: boolean;
  /** user → password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** ACL file text (Mosquitto syntax). */
  acl?: string;
}

/** One Mosquitto process; `restart()` keeps the ports and the persisted sessions. */
export class Mosquitto {
  port = 0;
  tlsPort = 0;
  wsPort = 0;
  pki: TestPki | null = null;
  private child: ChildProcess | null = null;
  private static live = new Set<ChildProcess>();

  constructor(private readonly options: MosquittoOptions) {}

  /** mqtt://127.0.0.1:<port> */
  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** mqtts://127.0.0.1:<tlsPort> */
  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  /** ws://127.0.0.1:<wsPort> */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.wsPort}`;
  }

  /** Writes the config (first time) and starts the broker; resolves once it accepts connections. */
  async start(): Promise<void> {
    const { dir } = this.options;
    if (this.port === 0) {
      mkdirSync(join(dir, 'data'), { recursive: true });
      this.port = await freePort();
      if (this.options.ws) this.wsPort = await freePort();
      if (this.options.tls) {
        this.tlsPort = await freePort();
        this.pki = this.options.pki ?? makePki(join(dir, 'pki'));
      }
      writeFileSync(join(dir, 'mosquitto.conf'), this.config());
    }
    const child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.child = child;
    Mosquitto.live.add(child);
    child.once('exit', () => Mosquitto.live.delete(child));
    const ports = [this.port, this.tlsPort, this.wsPort].filter((p) => p !== 0);
    for (const port of ports)
      await waitForPort(
        port,
        5000,
        () => child.exitCode !== null,
        () => stderr,
      );
  }

  /** SIGTERM (Mosquitto saves its persistence file), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops and starts again on the same ports with the same persisted state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private config(): string {
    const { dir, users, acl } = this.options;
    const lines = [
      // Tests run as root; without this Mosquitto drops to user mosquitto and cannot read our files.
      'user root',
      'per_listener_settings false',
      'persistence true',
      `persistence_location ${join(dir, 'data')}/`,
      `log_dest file ${join(dir, 'mosquitto.log')}`,
      'log_type all',
      `allow_anonymous ${users ? 'false' : 'true'}`,
      `listener ${this.port} 127.0.0.1`,
    ];
    if (users) {
      const file = join(dir, 'passwd');
      writeFileSync(file, '');
      for (const [user, password] of Object.entries(users))
        execFileSync('mosquitto_passwd', ['-b', file, user, password]);
      lines.splice(1, 0, `password_file ${file}`);
    }
    if (acl !== undefined) {
      writeFileSync(join(dir, 'acl'), acl);
      lines.splice(1, 0, `acl_file ${join(dir, 'acl')}`);
    }
    if (this.wsPort) lines.push(`listener ${this.wsPort} 127.0.0.1`, 'protocol websockets');
    if (this.pki) {
      lines.push(
        `listener ${this.tlsPort} 127.0.0.1`,
        `cafile ${this.pki.ca}`,
        `certfile ${this.pki.serverCert}`,
        `keyfile ${this.pki.serverKey}`,
        'require_certificate true',
      );
    }
    return `${lines.join('\n')}\n`;
  }

  static {
    // A failed test must not leave a broker behind holding a port.
    process.once('exit', () => {
      for (const child of Mosquitto.live) child.kill('SIGKILL');
    });
  }
}

/** Resolves once `port` accepts a connection; fails at once if mosquitto exits. */
async function waitForPort(port: number, timeoutMs: number, died: () => boolean, stderr: () => string): Promise<void> {
  await waitFor(
    () => `mosquitto listening on ${port}: ${stderr()}`,
    async () => {
      if (died()) throw new Error(`mosquitto exited: ${stderr()}`);
      return new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    },
    timeoutMs,
    50,
  );
}
