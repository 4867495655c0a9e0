/**
 * Stand-ins for what runs only on a board: a host tree whose device tree reads as a Pi or a
 * Jetson (for EDGE_AGENT_HOST_ROOT), and the CSI capture producers, as programs on PATH. They
 * move real frames through the real plumbing (the pipe into FFmpeg, process groups, stalls,
 * cuts), and where the real tool fails on a board, they fail with the same words and status.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const BOARDS = {
  // BCM2711: the hardware H.264 encoder (/dev/video11) that rpicam-vid --codec h264 uses.
  pi4: { model: 'Raspberry Pi 4 Model B Rev 1.5', compatible: ['raspberrypi,4-model-b', 'brcm,bcm2711'] },
  // BCM2712: no H.264 encoder block at all.
  pi5: { model: 'Raspberry Pi 5 Model B Rev 1.0', compatible: ['raspberrypi,5-model-b', 'brcm,bcm2712'] },
  // Tegra234 Orin NX: NVENC, reached only through GStreamer's nvv4l2h264enc.
  'jetson-orin-nx': {
    model: 'NVIDIA Jetson Orin NX Engineering Reference Developer Kit',
    compatible: ['nvidia,p3768-0000+p3767-0000', 'nvidia,p3767-0000', 'nvidia,tegra234'],
  },
} as const;

/** A host tree that reads as `board` to the agent's board detection. */
export function fakeBoard(root: string, board: keyof typeof BOARDS): void {
  const { model, compatible } = BOARDS[board];
  mkdirSync(path.join(root, 'proc/device-tree'), { recursive: true });
  writeFileSync(path.join(root, 'proc/device-tree/model'), `${model}\0`);
  writeFileSync(path.join(root, 'proc/device-tree/compatible'), compatible.map((c) => `${c}\0`).join(''));
}

function writeScript(bin: string, name: string, script: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, name), script);
  chmodSync(path.join(bin, name), 0o755);
}

/**
 * `rpicam-vid`: raw YUV420 (`--codec yuv420`) in real time, honouring --width/--height/--framerate.
 * `--codec h264` needs the V4L2 encoder, which `h264Encoder: false` takes away (a Pi 5, or a Pi 4
 * whose /dev/video11 is gone): rpicam-apps then prints its exception as the real one does and
 * exits 255. `tag` marks the process, so a test can find (and kill) it.
 */
export function fakeRpicamVid(
  bin: string,
  tag: string,
  options: { h264Encoder: boolean } = { h264Encoder: true },
): void {
  writeScript(
    bin,
    'rpicam-vid',
    `#!/bin/sh
w=640 h=480 f=30 codec=yuv420 intra=30
while [ $# -gt 0 ]; do
  case "$1" in
    --width) w=$2; shift ;;
    --height) h=$2; shift ;;
    --framerate) f=$2; shift ;;
    --codec) codec=$2; shift ;;
    --intra) intra=$2; shift ;;
  esac
  shift
done
src="testsrc2=size=\${w}x\${h}:rate=\${f}"
if [ "$codec" = h264 ]; then
  ${
    options.h264Encoder
      ? `exec ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i "$src" -metadata "comment=${tag}" -c:v libx264 -preset ultrafast -g "$intra" -bsf:v dump_extra -f h264 pipe:1`
      : `echo "ERROR: *** failed to open V4L2 H264 encoder ***" >&2
  exit 255`
  }
fi
exec ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i "$src" -metadata "comment=${tag}" -f rawvideo -pix_fmt yuv420p pipe:1
`,
  );
}

/**
 * `gst-launch-1.0` for a Jetson, on real GStreamer from Debian: the Argus camera source becomes
 * `videotestsrc`, nvvidconv becomes videoconvert, and nvv4l2h264enc becomes x264enc with the same
 * keyframe spacing and bitrate. With `nvenc: false` (an Orin Nano: no /dev/v4l2-nvenc) a
 * pipeline with nvv4l2h264enc fails the way GStreamer reports an element that cannot open its device.
 */
export function fakeGstLaunch(bin: string, tag: string, options: { nvenc: boolean } = { nvenc: true }): void {
  writeScript(
    bin,
    'gst-launch-1.0',
    `#!/bin/bash
# The real gst-launch-1.0, not this script (it comes later on PATH).
real="$(PATH="\${PATH#*:}" command -v gst-launch-1.0)"
args=()
for a in "$@"; do
  case "$a" in
    nvarguscamerasrc) args+=(videotestsrc is-live=true pattern=ball) ;;
    sensor-id=*) ;;
    "video/x-raw(memory:NVMM),"*) args+=("video/x-raw,\${a#video/x-raw(memory:NVMM),}") ;;
    nvvidconv) args+=(videoconvert) ;;
    nvv4l2h264enc)
      ${
        options.nvenc
          ? ''
          : `echo "ERROR: from element /GstPipeline:pipeline0/nvv4l2h264enc:nvv4l2h264enc0: Could not open device '/dev/v4l2-nvenc' for reading and writing." >&2
      echo "Additional debug info:" >&2
      echo "ERROR: pipeline doesn't want to preroll." >&2
      exit 1`
      }
      args+=(x264enc tune=zerolatency speed-preset=ultrafast) ;;
    insert-sps-pps=*) ;;
    iframeinterval=*) args+=("key-int-max=\${a#iframeinterval=}") ;;
    idrinterval=*) ;;
    bitrate=*) args+=("bitrate=$(( \${a#bitrate=} / 1000 ))") ;;
    *) args+=("$a") ;;
  esac
done
# The tag rides in the process title, so a test can find this producer.
exec -a "gst-launch-1.0 ${tag}" "$real" "\${args[@]}"
`,
  );
}
