import type { FfmpegRunExit } from './ffmpegProcess.js';

/** Why a run ended, as far as the supervisor's next step is concerned. */
export type FailureKind = 'source' | 'encoder' | 'other';

// What FFmpeg and producers print when the camera, not the encoder, is the problem.
const SOURCE_PATTERNS = [
  /No such device/i,
  /No such file or directory/i,
  /Connection (refused|timed out|reset)/i,
  /Server returned/i,
  /Input\/output error/i,
  /Device or resource busy/i,
  /VIDIOC_/,
  /Cannot open video device/i,
  /End of file/i,
  /No route to host/i,
  /Failed to (open|start) camera/i,
];

// What a hardware encoder says when it cannot run on this board (design.md lists them).
const ENCODER_PATTERNS = [
  /Could not find a valid device/i,
  /Cannot load lib/i,
  /Error (initializing|while opening) (output stream|encoder)/i,
  /No NVENC capable devices/i,
  /Failed to (initialise|initialize) VAAPI/i,
  /MFX session/i,
  /No VA display found/i,
  /Device creation failed/i,
  /Unknown encoder/i,
  // Camera-side encoders in the capture producer: rpicam-vid without the Pi's V4L2 encoder
  // (a Pi 5, or /dev/video11 unreachable), and any error GStreamer pins on nvv4l2h264enc (an
  // Orin Nano has no /dev/v4l2-nvenc) or a JetPack without the element.
  /failed to open V4L2 H264 encoder/i,
  /ERROR: from element \S*nvv4l2h264enc/,
  /no element "nvv4l2h264enc"/,
];

/** Sorts a run's end into a camera problem, an encoder problem, or anything else. */
export function classifyExit(exit: FfmpegRunExit, framesSeen: number): FailureKind {
  const text = `${exit.stderrTail}\n${exit.producerStderrTail ?? ''}`;
  // Encoder first: a hardware encoder's failure can mention a missing file too.
  if (framesSeen === 0 && ENCODER_PATTERNS.some((re) => re.test(text))) return 'encoder';
  if (SOURCE_PATTERNS.some((re) => re.test(text))) return 'source';
  // A producer that ended first (crashed, killed, camera gone) took FFmpeg's input with it. One
  // that ended after FFmpeg was stopped by us (SIGTERM) or by the broken pipe: not the camera.
  if (exit.producerEndedFirst) return 'source';
  if (exit.producer && exit.producer.code !== 0 && exit.producer.code !== null) return 'source';
  return 'other';
}

/** The last meaningful line of stderr, for events and status. */
export function lastErrorLine(exit: FfmpegRunExit): string {
  if (exit.producerEndedFirst && exit.producer) {
    // FFmpeg only saw its input end; the producer's own words (or fate) say what happened.
    return meaningfulLines(exit.producerStderrTail ?? '').at(-1) ?? `capture producer ${exitText(exit.producer)}`;
  }
  return meaningfulLines(`${exit.stderrTail}\n${exit.producerStderrTail ?? ''}`).at(-1) ?? exitText(exit);
}

function meaningfulLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(
      (line) =>
        line && !/^(frame|fps|stream_|bitrate|total_size|out_time|dup_frames|drop_frames|speed|progress)=/.test(line),
    );
}

function exitText(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return `exited with code ${exit.code ?? 'none'}${exit.signal ? ` (${exit.signal})` : ''}`;
}
