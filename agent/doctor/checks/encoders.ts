import path from 'node:path';
import { detectBoard } from '../../../device/board.js';
import { candidatesForSource, chooseEncoders, preferredLadder } from '../../../device/encoders/index.js';
import type { EncoderVerdict } from '../../../device/encoders/index.js';
import type { BoardInfo } from '../../../device/types.js';
import { encodeSettings } from '../../config/encodeSettings.js';
import { fail, ok, warn, type CheckResult, type DoctorContext } from '../types.js';

// Adapter onto device/encoders (chooseEncoders): a fresh probe, no cache file, so the answer is
// what the board can do now and a root-run doctor never leaves a root-owned cache behind.
async function probeLadder(ctx: DoctorContext): Promise<{ board: BoardInfo; verdicts: EncoderVerdict[] }> {
  const board = await detectBoard(ctx.root);
  const cam = ctx.config.cameras[0];
  const anyCsi = ctx.config.cameras.some((c) => /^csi(:\d+)?$/.test(c.source));
  const ladder = candidatesForSource(preferredLadder(board, ctx.config.encoder.prefer), anyCsi ? 'csi' : 'test');
  const settings = encodeSettings(ctx.config, cam);
  const { verdicts } = await chooseEncoders(ladder, settings, board, {
    run: ctx.run,
    sysRoot: path.join(ctx.root, 'sys'),
    devRoot: path.join(ctx.root, 'dev'),
  });
  return { board, verdicts };
}

/** The encoder ladder, probed by real test encodes: which rung the agent will use and why the others fail. */
export async function checkEncoders(ctx: DoctorContext): Promise<CheckResult> {
  const name = 'encoders';
  const { board, verdicts } = await probeLadder(ctx);
  const summary = verdicts
    .map((v) => (v.works ? `${v.name}: works` : `${v.name}: no (${(v.reason ?? '').slice(0, 120)})`))
    .join('; ');
  const best = verdicts.find((v) => v.works);
  const where = `${board.model || board.family}`;
  if (!best) {
    return fail(
      name,
      `${where}: no H.264 encoder works — ${summary}`,
      'install a full FFmpeg with libx264 (sudo apt-get install ffmpeg) and run edge-agent probe',
    );
  }
  // Pi 0-4 and Jetson Xavier/Orin NX have an encoder the agent should be using; elsewhere
  // (Pi 5, Orin Nano, a server without a GPU) libx264 is simply the answer.
  if (best.name === 'libx264' && (board.family === 'pi-legacy' || board.family === 'jetson')) {
    return warn(
      name,
      `${where}: only libx264 (software) works — ${summary}`,
      'expect high CPU; the reasons above say what the hardware encoder lacks (device node, driver, groups video/render)',
    );
  }
  return ok(name, `${where}: using ${best.name} — ${summary}`);
}
