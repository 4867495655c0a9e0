/** PacketLimitStream: normal packets pass byte for byte; oversized PUBLISHes are skipped (QoS 1 acknowledged); close mode disconnects. */
import { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import t from 'tap';
import { PacketLimitStream, type OversizedPacket } from '../../../agent/link/packetLimit.js';

function pair(mode: 'drop' | 'close', limit = 1024) {
  const written: Buffer[] = [];
  const inner = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      written.push(chunk);
      cb();
    },
  });
  const seen: OversizedPacket[] = [];
  const limited = new PacketLimitStream(inner, { mode, limit, onOversized: (p) => seen.push(p) });
  const received: Buffer[] = [];
  limited.on('data', (chunk: Buffer) => received.push(chunk));
  limited.on('error', () => undefined);
  return { inner, limited, written, seen, received: () => Buffer.concat(received) };
}

const publish = (topic: string, bytes: number, qos: 0 | 1, messageId = 0x1234) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(bytes, 0x61),
    qos,
    messageId,
    dup: false,
    retain: false,
  });
const ping = mqttPacket.generate({ cmd: 'pingresp' });

/** Feeds `data` in chunks of `size` bytes. */
async function feed(inner: Duplex, data: Buffer, size: number) {
  for (let i = 0; i < data.length; i += size) inner.push(data.subarray(i, i + size));
  await new Promise((resolve) => setImmediate(resolve));
}

for (const size of [1, 7, 100000]) {
  t.test(`chunks of ${size} byte(s): small packets pass unchanged, big ones are skipped`, async (t) => {
    const { inner, written, seen, received } = pair('drop');
    const small = publish('edge/gate-01/cmd/ping', 100, 1, 1);
    const stream = Buffer.concat([
      small,
      publish('edge/gate-01/cmd/ping', 5000, 1, 0xabcd),
      ping,
      publish('x/y', 300000, 0),
      small,
    ]);
    await feed(inner, stream, size);
    t.same(received(), Buffer.concat([small, ping, small]), 'exactly the small packets, in order');
    t.same(
      seen.map((s) => [s.topic, s.action]),
      [
        ['edge/gate-01/cmd/ping', 'dropped'],
        ['x/y', 'dropped'],
      ],
    );
    t.same(
      Buffer.concat(written),
      Buffer.from([0x40, 0x02, 0xab, 0xcd]),
      'the QoS 1 one acknowledged with its packet id; the QoS 0 one not',
    );
  });
}

t.test('close mode (the embedded broker): an oversized packet closes the connection', async (t) => {
  const { inner, limited, seen, received } = pair('close');
  const small = publish('a', 10, 0);
  await feed(inner, Buffer.concat([small, publish('a', 5000, 0)]), 3);
  t.same(received(), small);
  t.equal(limited.destroyed, true);
  t.match(seen, [{ action: 'closed', bytes: Number }]);
});

t.test('an oversized packet that is not a PUBLISH, or a bad length, closes the connection', async (t) => {
  const a = pair('drop', 16);
  await feed(a.inner, mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: Array(40).fill(1) }), 5);
  t.equal(a.limited.destroyed, true);
  const b = pair('drop');
  await feed(b.inner, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1);
  t.equal(b.limited.destroyed, true, 'five length bytes');
});

t.test('writes pass through', async (t) => {
  const { limited, written } = pair('drop');
  limited.write(ping);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(Buffer.concat(written), ping);
});
