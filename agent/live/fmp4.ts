/**
 * Fragmented MP4 as FFmpeg's mp4 muxer writes it to a pipe (empty_moov, one moof+mdat per
 * fragment): split into the init segment (ftyp+moov) and fragments, and tell which fragments
 * begin on a keyframe, where a player that joins late can start decoding.
 */

/** One piece of the stream: the init segment, or a fragment (moof+mdat). */
export type Fmp4Piece = { kind: 'init'; data: Buffer } | { kind: 'fragment'; data: Buffer; keyframe: boolean };

// Boxes are small except mdat; a header claiming more than this is a broken stream, not video.
const MAX_BOX_BYTES = 64 * 1024 * 1024;

/** Reassembles top-level boxes from pipe reads of any size and groups them into pieces. */
export class Fmp4Splitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private init: Buffer[] = [];
  private fragment: Buffer[] = [];
  private moof: Buffer | null = null;

  /** Feeds bytes; returns the pieces they completed. Throws on a stream that is not MP4. */
  push(chunk: Buffer): Fmp4Piece[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Fmp4Piece[] = [];
    for (let box = this.nextBox(); box; box = this.nextBox()) {
      const piece = this.take(box);
      if (piece) out.push(piece);
    }
    return out;
  }

  private nextBox(): Buffer | null {
    if (this.pendingBytes < 8) return null;
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending)];
    const head = this.pending[0]!;
    let size = head.readUInt32BE(0);
    if (size === 1) {
      if (head.length < 16) return null;
      size = Number(head.readBigUInt64BE(8));
    }
    if (size < 8 || size > MAX_BOX_BYTES) throw new Error(`not a fragmented mp4 stream: box of ${size} bytes`);
    if (head.length < size) return null;
    const box = head.subarray(0, size);
    const rest = head.subarray(size);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return box;
  }

  private take(box: Buffer): Fmp4Piece | null {
    const type = box.toString('latin1', 4, 8);
    if (type === 'ftyp' || type === 'moov') {
      this.init.push(box);
      if (type !== 'moov') return null;
      const data = Buffer.concat(this.init);
      this.init = [];
      return { kind: 'init', data };
    }
    if (type === 'moof') {
      this.moof = box;
      this.fragment.push(box);
      return null;
    }
    if (type === 'mdat' && this.moof) {
      this.fragment.push(box);
      const piece: Fmp4Piece = {
        kind: 'fragment',
        data: Buffer.concat(this.fragment),
        keyframe: startsWithKeyframe(this.moof),
      };
      this.fragment = [];
      this.moof = null;
      return piece;
    }
    // styp, sidx, prft, the mfra trailer: nothing a player needs here.
    return null;
  }
}

/** The payloads of the child boxes inside `data` (a container box's body), by type. */
function* children(data: Buffer): Generator<[string, Buffer]> {
  let at = 0;
  while (at + 8 <= data.length) {
    const size = data.readUInt32BE(at);
    if (size < 8 || at + size > data.length) return;
    yield [data.toString('latin1', at + 4, at + 8), data.subarray(at + 8, at + size)];
    at += size;
  }
}

// ISO/IEC 14496-12 sample flags: sample_is_non_sync_sample.
const NON_SYNC = 0x10000;

/** Whether a fragment's first sample is a sync sample (a keyframe), from its moof's tfhd/trun flags. */
export function startsWithKeyframe(moof: Buffer): boolean {
  for (const [type, traf] of children(moof.subarray(8))) {
    if (type !== 'traf') continue;
    let defaultFlags: number | null = null;
    for (const [inner, body] of children(traf)) {
      if (inner === 'tfhd' && body.length >= 8) {
        const flags = body.readUInt32BE(0) & 0xffffff;
        let at = 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0) + (flags & 0x8 ? 4 : 0) + (flags & 0x10 ? 4 : 0);
        if (flags & 0x20 && body.length >= at + 4) defaultFlags = body.readUInt32BE(at);
        at += 4;
      } else if (inner === 'trun' && body.length >= 8) {
        const flags = body.readUInt32BE(0) & 0xffffff;
        if (body.readUInt32BE(4) === 0) return false;
        let at = 8 + (flags & 0x1 ? 4 : 0);
        if (flags & 0x4) return body.length >= at + 4 && (body.readUInt32BE(at) & NON_SYNC) === 0;
        at += (flags & 0x100 ? 4 : 0) + (flags & 0x200 ? 4 : 0);
        if (flags & 0x400) return body.length >= at + 4 && (body.readUInt32BE(at) & NON_SYNC) === 0;
        return defaultFlags !== null && (defaultFlags & NON_SYNC) === 0;
      }
    }
  }
  return false;
}
