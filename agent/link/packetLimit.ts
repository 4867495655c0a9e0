/**
 * A cap on the size of incoming MQTT packets, enforced on the byte stream before any parser
 * buffers a packet. MQTT.js (and mqtt-packet under aedes) collect a whole packet before handing it
 * on, and MQTT.js checks MQTT 5's maximumPacketSize only after that, while 3.1.1 has no limit at
 * all: three 150 MB messages took the agent from 80 to 405 MB RSS (issue 15). Here an oversized
 * PUBLISH is skipped as its bytes arrive (acknowledged when it is QoS 1, so the broker does not
 * send it again) and anything else oversized closes the connection.
 */
import { Duplex } from 'node:stream';

/** The largest incoming packet accepted, bytes: a command body is at most 64 KiB, plus topic and properties. */
export const MAX_INCOMING_PACKET_BYTES = 128 * 1024;

/** What happened to one oversized packet. */
export interface OversizedPacket {
  /** MQTT control packet type (3: PUBLISH). */
  type: number;
  /** The whole packet's size, bytes. */
  bytes: number;
  /** The PUBLISH topic, when read. */
  topic?: string;
  action: 'dropped' | 'closed';
}

/** How a limited stream behaves. */
export interface PacketLimitOptions {
  limit?: number;
  /** `drop`: skip an oversized PUBLISH (a client); `close`: close the connection on any (a broker facing its clients). */
  mode: 'drop' | 'close';
  onOversized?: (packet: OversizedPacket) => void;
}

const PUBLISH = 3;

type State = 'header' | 'length' | 'pass' | 'head' | 'skip';

/** Wraps a connection's duplex stream; reads are scanned packet by packet, writes go through as they are. */
export class PacketLimitStream extends Duplex {
  private state: State = 'header';
  private header: number[] = [];
  private remaining = 0;
  private total = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private readonly limit: number;

  constructor(
    private readonly inner: Duplex,
    private readonly options: PacketLimitOptions,
  ) {
    super({ allowHalfOpen: false });
    this.limit = options.limit ?? MAX_INCOMING_PACKET_BYTES;
    inner.on('data', (chunk: Buffer) => {
      let more = true;
      for (const part of this.scan(chunk)) more = this.push(part) && more;
      if (!more) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => this.destroy());
    inner.on('drain', () => this.emit('drain'));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.inner.write(chunk, encoding)) callback();
    else this.inner.once('drain', () => callback());
  }

  // MQTT.js corks the stream while it writes a packet's pieces: hand them on as one write, as the
  // socket itself would have received them (piecemeal small writes meet Nagle's delay).
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner.destroy();
    callback(error);
  }

  /** The parts of `chunk` to pass on; oversized packets are left out. */
  private scan(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && !this.destroyed) {
      if (this.state === 'header') {
        this.header = [chunk[i++]!];
        this.state = 'length';
      } else if (this.state === 'length') {
        const byte = chunk[i++]!;
        this.header.push(byte);
        if (byte & 0x80) {
          // The remaining length is at most four bytes long (MQTT 2.2.3).
          if (this.header.length > 4) this.close(0);
          continue;
        }
        let length = 0;
        for (let k = this.header.length - 1; k >= 1; k -= 1) length = length * 128 + (this.header[k]! & 0x7f);
        this.remaining = length;
        this.total = this.header.length + length;
        if (this.total <= this.limit) {
          out.push(Buffer.from(this.header));
          this.state = length > 0 ? 'pass' : 'header';
        } else this.oversized();
      } else if (this.state === 'head') {
        const n = Math.min(this.headWanted(), this.remaining, chunk.length - i);
        this.head.push(Buffer.from(chunk.subarray(i, i + n)));
        this.headLength += n;
        i += n;
        this.remaining -= n;
        if (this.remaining === 0 || this.headWanted() === 0) {
          this.finishHead();
          this.state = this.remaining > 0 ? 'skip' : 'header';
        }
      } else {
        const n = Math.min(this.remaining, chunk.length - i);
        if (this.state === 'pass') out.push(chunk.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'header';
      }
    }
    return out;
  }

  private oversized(): void {
    const type = this.header[0]! >> 4;
    const qos = (this.header[0]! >> 1) & 3;
    if (this.options.mode === 'close' || type !== PUBLISH || qos > 1) {
      this.close(type);
      return;
    }
    this.head = [];
    this.headLength = 0;
    this.state = 'head';
  }

  /** Bytes of an oversized PUBLISH's head still wanted: topic length, topic and (QoS 1) packet id. */
  private headWanted(): number {
    if (this.headLength < 2) return 2 - this.headLength;
    const qos = (this.header[0]! >> 1) & 3;
    return Math.max(0, 2 + Buffer.concat(this.head).readUInt16BE(0) + (qos === 1 ? 2 : 0) - this.headLength);
  }

  /** Reports the dropped PUBLISH and acknowledges it (QoS 1), once its head is read. */
  private finishHead(): void {
    const head = Buffer.concat(this.head);
    const qos = (this.header[0]! >> 1) & 3;
    const topicLength = head.length >= 2 ? head.readUInt16BE(0) : 0;
    const topic = head.length >= 2 + topicLength ? head.subarray(2, 2 + topicLength).toString('utf8') : undefined;
    if (qos === 1 && head.length >= 4 + topicLength) {
      // A PUBACK of our own, through our own write queue so it never splits a packet MQTT.js is writing.
      this.write(Buffer.from([0x40, 0x02, head[2 + topicLength]!, head[3 + topicLength]!]));
    }
    this.options.onOversized?.({ type: PUBLISH, bytes: this.total, topic, action: 'dropped' });
    this.head = [];
    this.headLength = 0;
  }

  private close(type: number): void {
    this.options.onOversized?.({ type, bytes: this.total, action: 'closed' });
    this.destroy(new Error(`mqtt packet of ${this.total} bytes is larger than the ${this.limit}-byte limit`));
  }
}
