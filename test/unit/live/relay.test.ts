import t from 'tap';
import { PassThrough } from 'node:stream';
import type { LiveClient } from '../../../agent/contract/services.js';
import { Fmp4Splitter } from '../../../agent/live/fmp4.js';
import { CameraRelay, CLOSE_RESTARTED, CLOSE_TOO_SLOW, DEFAULT_LIMITS, LiveRelays } from '../../../agent/live/relay.js';
import { silentLogger } from '../../../agent/util/logger.js';
import { liveFmp4 } from '../../helpers/media.js';

/** A viewer as the relay sees it, recording what it is sent; `queued` stands for its socket's backlog. */
class Viewer implements LiveClient {
  sent: Buffer[] = [];
  closed: { code: number; reason: string } | null = null;
  queued = 0;
  send(data: Buffer): void {
    this.sent.push(data);
  }
  bufferedBytes(): number {
    return this.queued;
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const boxType = (data: Buffer) => data.toString('latin1', 4, 8);

// Real FFmpeg output: init, then 20 one-frame fragments with a keyframe every 5 (0, 5, 10, 15).
const stream = await liveFmp4(2, 5);
const pieces = new Fmp4Splitter().push(stream);
const init = pieces[0]!.data;
const fragments = pieces.slice(1).map((p) => p.data);

function setup(limits = DEFAULT_LIMITS) {
  const relay = new CameraRelay(silentLogger(), limits);
  const pipe = new PassThrough();
  relay.attach(pipe);
  return { relay, pipe };
}

async function feed(pipe: PassThrough, parts: Buffer[]): Promise<void> {
  for (const part of parts) pipe.write(part);
  await tick();
}

t.test('a viewer there from the start gets the init segment, then every fragment in order', async (t) => {
  const { relay, pipe } = setup();
  const viewer = new Viewer();
  t.ok(relay.subscribe(viewer));
  t.same(viewer.sent, [], 'nothing before the stream begins');
  // Reads of any size: here the whole stream cut in odd places.
  for (let at = 0; at < stream.length; at += 1000) pipe.write(stream.subarray(at, at + 1000));
  await tick();
  t.same(viewer.sent, [init, ...fragments], 'init, then all 20 fragments as they were made');
});

t.test('a late joiner gets the init segment first, then the group from its keyframe, then live', async (t) => {
  const { relay, pipe } = setup();
  await feed(pipe, [init, ...fragments.slice(0, 8)]); // keyframes at 0 and 5; 5, 6, 7 are the current group
  const late = new Viewer();
  relay.subscribe(late);
  t.equal(boxType(late.sent[0]!), 'ftyp', 'the init segment first');
  t.same(late.sent, [init, fragments[5], fragments[6], fragments[7]], 'then the group since the last keyframe');
  await feed(pipe, fragments.slice(8, 12));
  t.same(late.sent.slice(4), fragments.slice(8, 12), 'then each new fragment');
});

t.test('a joiner before any keyframe waits for one', async (t) => {
  const { relay, pipe } = setup();
  const mid = new Viewer();
  // A stream whose first fragment is not a keyframe (a relay that lost its group): nothing to start on.
  await feed(pipe, [init, fragments[1]!]);
  relay.subscribe(mid);
  t.same(mid.sent, [], 'no init segment without a keyframe to follow it');
  await feed(pipe, [fragments[2]!, fragments[3]!, fragments[4]!]);
  t.same(mid.sent, [], 'still waiting');
  await feed(pipe, [fragments[5]!, fragments[6]!]);
  t.same(mid.sent, [init, fragments[5], fragments[6]], 'init and the keyframe together');
});

t.test('a viewer that falls behind is dropped; the others keep playing', async (t) => {
  const { relay, pipe } = setup({ ...DEFAULT_LIMITS, maxBufferedBytes: 10_000 });
  const slow = new Viewer();
  const fast = new Viewer();
  relay.subscribe(slow);
  relay.subscribe(fast);
  await feed(pipe, [init, ...fragments.slice(0, 3)]);
  slow.queued = 10_001;
  await feed(pipe, [fragments[3]!]);
  t.same(slow.closed, { code: CLOSE_TOO_SLOW, reason: 'too slow for the live view' }, 'closed with 1013');
  t.equal(slow.sent.length, 4, 'nothing more was queued for it');
  t.equal(relay.clientCount, 1);
  await feed(pipe, [fragments[4]!]);
  t.same(fast.sent, [init, ...fragments.slice(0, 5)], 'the other viewer got everything');
  t.equal(slow.sent.length, 4, 'the dropped one nothing');
});

t.test('a joiner that cannot take even the group is dropped at once', async (t) => {
  const { relay, pipe } = setup({ ...DEFAULT_LIMITS, maxBufferedBytes: 1000 });
  await feed(pipe, [init, ...fragments.slice(0, 3)]);
  const stuck = new Viewer();
  stuck.queued = 5000;
  relay.subscribe(stuck);
  t.equal(stuck.closed?.code, CLOSE_TOO_SLOW);
  t.equal(relay.clientCount, 0);
});

t.test('viewers per camera are capped', async (t) => {
  const { relay } = setup({ ...DEFAULT_LIMITS, maxClients: 2 });
  t.ok(relay.subscribe(new Viewer()));
  const second = relay.subscribe(new Viewer());
  t.ok(second);
  t.equal(relay.subscribe(new Viewer()), null, 'the third is turned away');
  second!.unsubscribe();
  t.ok(relay.subscribe(new Viewer()), 'a place freed is taken');
});

t.test('unsubscribe stops the sends', async (t) => {
  const { relay, pipe } = setup();
  const viewer = new Viewer();
  const subscription = relay.subscribe(viewer)!;
  await feed(pipe, [init, fragments[0]!]);
  subscription.unsubscribe();
  await feed(pipe, [fragments[1]!]);
  t.equal(viewer.sent.length, 2);
  t.equal(relay.clientCount, 0);
});

t.test('a new run restarts the viewers onto its own init segment', async (t) => {
  const { relay, pipe } = setup();
  const viewer = new Viewer();
  relay.subscribe(viewer);
  await feed(pipe, [init, ...fragments.slice(0, 7)]);
  const next = new PassThrough();
  relay.attach(next);
  t.same(viewer.closed, { code: CLOSE_RESTARTED, reason: 'stream restarted' }, 'told to reconnect');
  await feed(pipe, fragments.slice(7, 9));
  const again = new Viewer();
  relay.subscribe(again);
  t.same(again.sent, [], 'nothing of the old run (no init segment of the new one yet)');
  await feed(next, [init, fragments[0]!]);
  t.same(again.sent, [init, fragments[0]], 'the new run from its start');
});

t.test('the end of a run closes its viewers', async (t) => {
  const { relay, pipe } = setup();
  const viewer = new Viewer();
  relay.subscribe(viewer);
  await feed(pipe, [init, fragments[0]!]);
  pipe.end();
  await tick();
  t.equal(viewer.closed?.code, CLOSE_RESTARTED);
});

t.test('an unreadable stream stops the live view but is still drained (FFmpeg must never block on it)', async (t) => {
  const { relay, pipe } = setup();
  const viewer = new Viewer();
  relay.subscribe(viewer);
  await feed(pipe, [Buffer.from('garbage that is no mp4 box at all'), init, fragments[0]!]);
  t.same(viewer.sent, [], 'nothing sent');
  for (let i = 0; i < 50; i += 1) pipe.write(Buffer.alloc(64 * 1024));
  await tick();
  t.equal(pipe.readableLength, 0, 'every byte read');
  t.equal(pipe.writableLength, 0, 'no write waits');
});

t.test('LiveRelays: one relay per camera, made on first use', async (t) => {
  const relays = new LiveRelays(silentLogger());
  t.equal(relays.forCamera('cam1'), relays.forCamera('cam1'));
  t.not(relays.forCamera('cam1'), relays.forCamera('cam2'));
  const pipe = new PassThrough();
  relays.forCamera('cam2').attach(pipe);
  const viewer = new Viewer();
  relays.subscribe('cam2', viewer);
  await feed(pipe, [init, fragments[0]!]);
  t.equal(viewer.sent.length, 2, 'subscribed to the camera the run was attached to');
});
