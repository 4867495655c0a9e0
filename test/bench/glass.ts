/**
 * Glass to glass in headless Chromium: the test pattern carries each frame's capture time in its
 * time band (device/sources/test.ts); the page's displayed frame is read back through a canvas at
 * every frame the browser presents and compared with Date.now(). Independent of the player: the
 * same reading serves the live view and HLS.
 */
import type { Page } from 'playwright-core';
import type { TimeBand } from '../../device/sources/test.js';

// Runs in the page, so plain JavaScript in a string: tsx would wrap named functions in a helper
// the page does not have.
const SAMPLE = `(video, { band, ms }) => new Promise((resolve) => {
  const canvas = document.createElement('canvas');
  canvas.width = band.blockWidth * band.bits;
  canvas.height = band.blockHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const period = 2 ** band.bits;
  const out = [];
  const until = Date.now() + ms;
  const read = () => {
    const now = Date.now();
    ctx.drawImage(video, 0, band.y, canvas.width, canvas.height, 0, 0, canvas.width, canvas.height);
    const row = ctx.getImageData(0, Math.floor(band.blockHeight / 2), canvas.width, 1).data;
    let value = 0;
    for (let bit = 0; bit < band.bits; bit += 1) {
      if (row[(bit * band.blockWidth + Math.floor(band.blockWidth / 2)) * 4] > 128) value += 2 ** bit;
    }
    out.push((((now % period) - value + period) % period) / 1000);
  };
  const next = (step) => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(step) : setTimeout(step, 20));
  const step = () => {
    if (Date.now() > until) return resolve(out);
    read();
    next(step);
  };
  next(step);
})`;

/** Latencies in seconds of `seconds` worth of displayed frames of the video matching `selector`. */
export async function displayedLatencies(
  page: Page,
  selector: string,
  band: TimeBand,
  seconds: number,
): Promise<number[]> {
  const args = JSON.stringify({ band, ms: seconds * 1000 });
  return page.evaluate(`(${SAMPLE})(document.querySelector(${JSON.stringify(selector)}), ${args})`) as Promise<
    number[]
  >;
}

/** The p-th percentile (0..1) of a list. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] ?? NaN;
}
