/** Facts about the hardware, shared by device/ and the pipeline. device/ holds no policy. */

/** The boards we know; `generic` is any other Linux machine (x86 servers, this CI box). */
export type BoardFamily =
  | 'pi-legacy' // Pi 0-4 and Zero 2 W: h264_v4l2m2m or rpicam-vid's encoder
  | 'pi5' // no hardware encoder
  | 'jetson' // Xavier / Orin NX / AGX: nvv4l2h264enc in a GStreamer producer
  | 'jetson-orin-nano' // no hardware encoder
  | 'generic';

/** What board detection found. */
export interface BoardInfo {
  family: BoardFamily;
  /** Human model string, e.g. "Raspberry Pi 4 Model B Rev 1.4". */
  model: string;
  /** `uname -r`, part of the encoder probe cache key. */
  kernel: string;
  /** Jetson only: the L4T release from /etc/nv_tegra_release, e.g. "R35.4.1" (R32 = JetPack 4, legacy). */
  l4t?: string;
}

/** Size and rate wanted from a camera. */
export interface CaptureSpec {
  width: number;
  height: number;
  fps: number;
}

/** Settings every encoder attempt shares, so a probe tests exactly what will run. */
export interface EncodeSettings extends CaptureSpec {
  bitrateKbps: number;
  /** Seconds between forced keyframes (the HLS segment length). */
  keyframeSeconds: number;
}

/** One rung of the encoder ladder: where the single H.264 encode happens. */
export interface EncoderCandidate {
  /**
   * FFmpeg encoder name (`h264_v4l2m2m`, `h264_nvenc`, `h264_vaapi`, `h264_qsv`, `libx264`) or a
   * producer-side encoder (`rpicam-h264`, `nvv4l2h264enc`).
   */
  name: string;
  /** `ffmpeg`: FFmpeg encodes; `producer`: the capture producer delivers H.264 and FFmpeg copies. */
  where: 'ffmpeg' | 'producer';
}

/** A process whose stdout the OS joins to FFmpeg's stdin (frames never pass through Node). */
export interface ProducerCommand {
  command: string;
  args: string[];
}

/** How FFmpeg gets one camera's frames. */
export interface CaptureInput {
  /** Started first; its stdout becomes FFmpeg's stdin. */
  producer?: ProducerCommand;
  /** FFmpeg input options ending in `-i <url>` (no timestamp options: the pipeline adds them). */
  inputArgs: string[];
  /** True when the input is already H.264 (camera H.264, producer encoder): FFmpeg copies it. */
  encoded: boolean;
  /**
   * True when the input args stamp each packet with the wall-clock time it reaches FFmpeg
   * (`-use_wallclock_as_timestamps 1`): a live source whose first frame may come seconds after
   * FFmpeg starts (device start-up, RTSP probing). The pipeline then puts frames on the wall
   * clock as they really arrived, instead of assuming the first one came at start.
   */
  wallClock?: boolean;
  /**
   * A filter to put first in the video chain (raw inputs only): the camera could only offer a
   * bigger size or faster rate (`scale=1280:720,fps=30`), or its range needs converting.
   */
  filter?: string;
  /** Short description for logs and status, e.g. "v4l2 /dev/video0 mjpeg 1280x720@30". */
  description: string;
  /**
   * Run before every start of the pipeline (the device may have been replugged and reset since):
   * e.g. asks a camera-side encoder for its keyframe spacing. Says what it did, for the log.
   */
  prepare?: () => Promise<string>;
}
