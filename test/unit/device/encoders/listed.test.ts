import t from 'tap';
import { listedH264Encoders, parseEncoderList } from '../../../../device/encoders/listed.js';

const DEBIAN_5_1 = `Encoders:
 V..... = Video
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V..... h264_omx             OpenMAX IL H.264 video encoder (codec h264)
 V..... h264_qsv             H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (Intel Quick Sync Video acceleration) (codec h264)
 V..... h264_v4l2m2m         V4L2 mem2mem H.264 encoder wrapper (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)
 A....D aac                  AAC (Advanced Audio Coding)
`;

t.test("Debian's FFmpeg 5.1 list: every H.264 encoder but the RGB one", async (t) => {
  t.same(parseEncoderList(DEBIAN_5_1), ['libx264', 'h264_nvenc', 'h264_omx', 'h264_qsv', 'h264_v4l2m2m', 'h264_vaapi']);
});

t.test('no ffmpeg: an empty list', async (t) => {
  const run = async (): Promise<never> => {
    throw new Error('spawn ffmpeg ENOENT');
  };
  t.same(await listedH264Encoders(run), []);
});
