/** One `-progress` block from FFmpeg. */
export interface FfmpegProgress {
  frame: number;
  fps: number;
  dropFrames: number;
  dupFrames: number;
  outTimeSeconds: number;
  /** True on the last block, written as FFmpeg ends. */
  end: boolean;
}

/** Splits FFmpeg's `-progress` key=value stream into blocks; each ends with a `progress=` line. */
export class ProgressParser {
  private buffer = '';
  private fields = new Map<string, string>();

  /** Feeds a chunk of the stream; returns every block it completes. */
  push(chunk: string): FfmpegProgress[] {
    this.buffer += chunk;
    const lines = this.buffer.split('\n');
    // split() returns at least one element: the last, unfinished line is kept for the next chunk.
    this.buffer = lines.pop()!;
    const blocks: FfmpegProgress[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1).trim();
      if (key !== 'progress') {
        this.fields.set(key, value);
        continue;
      }
      blocks.push(this.block(value === 'end'));
      this.fields = new Map();
    }
    return blocks;
  }

  private num(key: string): number {
    const value = Number.parseFloat(this.fields.get(key) ?? '');
    return Number.isFinite(value) ? value : 0;
  }

  private block(end: boolean): FfmpegProgress {
    return {
      frame: this.num('frame'),
      fps: this.num('fps'),
      dropFrames: this.num('drop_frames'),
      dupFrames: this.num('dup_frames'),
      outTimeSeconds: this.num('out_time_us') / 1e6,
      end,
    };
  }
}
