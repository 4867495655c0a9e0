/** A fake systemd NOTIFY_SOCKET: a bound unix datagram socket that records every message. */
import { spawn, type ChildProcess } from 'node:child_process';

// Node has no unix datagram sockets; python3 binds one (abstract names with the exact address
// length, as systemd does).
const PY_RECEIVER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
p = sys.argv[1]
s.bind(b'\\0' + p[1:].encode() if p.startswith('@') else p)
print('bound', flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

/** Records datagrams sent to `path` (a file path, or `@name` for the abstract namespace). */
export class FakeNotifySocket {
  readonly messages: string[] = [];
  /** Date.now() at each message's arrival, index for index with `messages`. */
  readonly arrivedAt: number[] = [];
  private child: ChildProcess | null = null;
  private waiters: Array<() => void> = [];
  private bound: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {
    this.bindPython();
  }

  /** Resolves once the socket accepts messages. */
  ready(): Promise<void> {
    return this.bound;
  }

  /** How many messages so far equal `message`. */
  count(message: string): number {
    return this.messages.filter((m) => m === message).length;
  }

  /** Resolves when a message satisfies `match`, rejects after `timeoutMs`. */
  async waitFor(match: (message: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching notify message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops listening. */
  close(): void {
    this.child?.kill();
  }

  private record(message: string): void {
    this.messages.push(message);
    this.arrivedAt.push(Date.now());
    for (const wake of this.waiters.splice(0)) wake();
  }

  private bindPython(): void {
    const child = spawn('python3', ['-c', PY_RECEIVER, this.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    let buffer = '';
    this.bound = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === 'bound') resolve();
          else this.record(JSON.parse(line) as string);
        }
      });
    });
  }
}
