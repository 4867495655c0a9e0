/**
 * What FFmpeg may open for a camera (issue 15: a file: source, or a playlist or list it names,
 * made FFmpeg read any file the agent could, and snapshot handed it out).
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_FORMATS, withAllowLists } from '../../../agent/pipeline/sourcePolicy.js';
import { testPatternInput } from '../../../device/sources/test.js';
import { urlInput } from '../../../device/sources/url.js';

t.test('allow-lists go before -i, per kind of source', async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    [
      'test pattern (lavfi opens no url)',
      testPatternInput({ width: 160, height: 120, fps: 5 }).inputArgs,
      ['-protocol_whitelist', 'file,pipe'],
    ],
    ['rtsp', urlInput('rtsp://cam/s').inputArgs, ['-protocol_whitelist', 'rtsp,rtp,srtp,udp,tcp,tls']],
    ['http', urlInput('http://cam/x.ts').inputArgs, ['-protocol_whitelist', 'http,https,tcp,tls,crypto']],
    [
      'file: no other protocol, and only plain containers',
      urlInput('file:///m/clip.mp4').inputArgs,
      ['-protocol_whitelist', 'file', '-format_whitelist', FILE_FORMATS],
    ],
  ];
  const sources = ['test', 'rtsp://cam/s', 'http://cam/x.ts', 'file:///m/clip.mp4'];
  cases.forEach(([name, inputArgs, lists], i) => {
    const out = withAllowLists(sources[i]!, { inputArgs, encoded: false, description: name }).inputArgs;
    const at = out.lastIndexOf('-i');
    t.same(out.slice(at - lists.length, at), lists, name);
    t.same([...out.slice(0, at - lists.length), ...out.slice(at)], inputArgs, `${name}: the rest unchanged`);
  });
  t.notMatch(FILE_FORMATS, /hls|concat|tty|image2|lavfi/, 'no format that opens further files');
});

t.test('real FFmpeg: a clip plays; a list or playlist naming a file outside is refused', async (t) => {
  const dir = t.testdir({ media: {} });
  const media = join(dir, 'media');
  const secret = join(dir, 'secret.ts');
  const make = (out: string) =>
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=160x120:rate=5',
      '-t',
      '1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-f',
      'mpegts',
      out,
    ]);
  make(secret);
  make(join(media, 'clip.ts'));
  await writeFile(join(media, 'list.ffconcat'), `ffconcat version 1.0\nfile '${secret}'\n`);
  await writeFile(
    join(media, 'play.m3u8'),
    `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${secret}\n#EXT-X-ENDLIST\n`,
  );
  const decode = (file: string, lists: boolean) => {
    const capture = urlInput(`file://${file}`);
    const input = lists ? withAllowLists(`file://${file}`, capture).inputArgs : capture.inputArgs;
    // -re and -stream_loop make it a live camera; here one frame is enough.
    const args = input.filter((a, i, all) => a !== '-re' && a !== '-stream_loop' && all[i - 1] !== '-stream_loop');
    return spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', ...args, '-frames:v', '1', '-f', 'null', '-'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
  };
  t.equal(decode(join(media, 'clip.ts'), true).status, 0, 'a clip in the media folder decodes with the allow-lists');
  t.equal(
    decode(join(media, 'play.m3u8'), false).status,
    0,
    'without them a playlist reads the file outside (the finding)',
  );
  for (const name of ['list.ffconcat', 'play.m3u8']) {
    const r = decode(join(media, name), true);
    t.not(r.status, 0, `${name} naming a file outside: refused`);
  }
});

t.test('input arguments without -i are returned as they are: nothing to put the lists before', async (t) => {
  const capture = { inputArgs: ['-f', 'v4l2', '-framerate', '15'], encoded: false, description: 'no input yet' };
  t.equal(withAllowLists('/dev/video0', capture), capture);
});
