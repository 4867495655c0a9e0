import t, { type Test } from 'tap';
import { ffmpegEncoderArgs } from '../../../device/encoders/args.js';
import type { CaptureInput } from '../../../device/types.js';
import {
  buildPipelineArgs,
  FIRST_FRAME_HOLD_SECONDS,
  FIRST_SEGMENT_SECONDS,
  isHlsOutput,
  keyframeExpression,
  offsetText,
  teeOptionValue,
  teeOutput,
  type PipelineArgsInput,
} from '../../../agent/pipeline/ffmpegArgs.js';

/** A capture on its own timestamps (csi producers, file: URLs): moved onto the timeline by an offset. */
const RAW: CaptureInput = { inputArgs: ['-f', 'v4l2', '-i', '/dev/video0'], encoded: false, description: 'raw camera' };
const H264: CaptureInput = { inputArgs: ['-f', 'h264', '-i', 'pipe:0'], encoded: true, description: 'producer h264' };
/** Live captures stamped on arrival (v4l2, rtsp, http, the test pattern). */
const WALL: CaptureInput = {
  inputArgs: ['-use_wallclock_as_timestamps', '1', '-f', 'v4l2', '-i', '/dev/video0'],
  encoded: false,
  wallClock: true,
  description: 'raw camera, wall clock',
};
const H264_WALL: CaptureInput = {
  inputArgs: ['-use_wallclock_as_timestamps', '1', '-f', 'v4l2', '-input_format', 'h264', '-i', '/dev/video0'],
  encoded: true,
  wallClock: true,
  description: 'camera h264, wall clock',
};
const X264 = ffmpegEncoderArgs('libx264', { width: 1280, height: 720, fps: 30, bitrateKbps: 2000, keyframeSeconds: 1 });
const VAAPI = ffmpegEncoderArgs('h264_vaapi', {
  width: 1280,
  height: 720,
  fps: 30,
  bitrateKbps: 2000,
  keyframeSeconds: 1,
});
/** An archive boundary (a multiple of 600 s) in epoch seconds. */
const BASE = 1_700_000_400;
/**
 * The filters a wall-clock capture starts its chain with, at 1-s keyframes and a run that started
 * 0.4 s after the base: the first frame stamped back to a boundary or the frames before one dropped.
 */
const ALIGN =
  "select='gte(floor(start_t/1)*1,0.400000)*lte(start_t-floor(start_t/1)*1,0.5)+gte(t,ceil(start_t/1)*1)'," +
  "setpts='if(eq(N,0),floor(T/1)*1/TB,PTS)'";

function input(over: Partial<PipelineArgsInput> = {}): PipelineArgsInput {
  return {
    capture: RAW,
    encoder: X264,
    keyframeSeconds: 1,
    timeline: { baseSeconds: BASE, offsetSeconds: 0.4 },
    hls: { dir: '/run/edge/hls/cam0', segmentSeconds: 1, listSize: 6 },
    recording: { dir: '/srv/archive/cam0/.partial/run1', segmentSeconds: 600 },
    ...over,
  };
}

/** The value following `flag` in an argument list (undefined when absent). */
function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** The tee muxer's target: the argument after `-f tee`. */
function teeTarget(args: string[]): string {
  return args[args.indexOf('tee') + 1]!;
}

/** The tee target split into its slaves: options map and output path, unescaped. */
function teeSlaves(target: string): Array<{ options: Map<string, string>; output: string }> {
  // FFmpeg's own reading (tee.c, tee_common.c): av_get_token splits slaves at '|', then each
  // `[key=value:...]` value is read with av_get_token again up to ':' or ']'.
  const slaves: string[] = [];
  const rest = { text: target };
  while (rest.text) {
    slaves.push(avGetToken(rest, '|'));
    if (rest.text.startsWith('|')) rest.text = rest.text.slice(1);
  }
  return slaves.map((slave) => {
    if (!slave.startsWith('[')) throw new Error(`not a tee slave: ${slave}`);
    const options = new Map<string, string>();
    const p = { text: slave.slice(1) };
    for (;;) {
      const key = /^\s*([A-Za-z0-9_./-]*)\s*=/.exec(p.text);
      if (!key) throw new Error(`no option near ${p.text}`);
      p.text = p.text.slice(key[0].length);
      options.set(key[1]!, avGetToken(p, ':]'));
      if (p.text.startsWith(']')) break;
      p.text = p.text.slice(1);
    }
    return { options, output: p.text.slice(1) };
  });
}

/** libavutil's av_get_token: skips leading white space, honours \x and '...', stops at a `term` character. */
function avGetToken(buf: { text: string }, term: string): string {
  let p = buf.text.replace(/^[ \n\t\r]+/, '');
  let out = '';
  let end = 0;
  while (p && !term.includes(p[0]!)) {
    const c = p[0]!;
    p = p.slice(1);
    if (c === '\\' && p) {
      out += p[0];
      p = p.slice(1);
      end = out.length;
    } else if (c === "'") {
      const close = p.indexOf("'");
      out += close === -1 ? p : p.slice(0, close);
      p = close === -1 ? '' : p.slice(close + 1);
      if (close !== -1) end = out.length;
    } else out += c;
  }
  buf.text = p;
  // Trailing white space is dropped unless it was escaped or quoted.
  let cut = out.length;
  while (cut > end && /[ \n\t\r]/.test(out[cut - 1]!)) cut -= 1;
  return out.slice(0, cut);
}

/** The capture's input arguments sit right after `-itsoffset <value>`, followed by -copyts. */
function inputBlock(t: Test, args: string[], capture: CaptureInput): void {
  const i = args.indexOf('-itsoffset');
  t.ok(i >= 0, '-itsoffset present');
  t.same(
    args.slice(i + 2, i + 2 + capture.inputArgs.length),
    capture.inputArgs,
    'the input args follow -itsoffset <value>',
  );
  t.equal(args[i + 2 + capture.inputArgs.length], '-copyts', '-copyts right after the input');
}

t.test('libx264 encode: the whole command line, in both timeline modes', async (t) => {
  const common: Array<[string, (t: Test, args: string[]) => void]> = [
    [
      'progress on stdout every half second',
      (t, a) => {
        t.equal(after(a, '-progress'), 'pipe:1');
        t.equal(after(a, '-stats_period'), '0.5');
      },
    ],
    [
      'the encoder options follow the map',
      (t, a) => {
        const i = a.indexOf('-map');
        t.same(a.slice(i + 2, i + 2 + X264.outputArgs.length), X264.outputArgs);
      },
    ],
    [
      '-fps_mode vfr keeps the capture timestamps, dropping a repeat of one',
      (t, a) => t.equal(after(a, '-fps_mode'), 'vfr'),
    ],
    ['+global_header for the tee muxer', (t, a) => t.equal(after(a, '-flags'), '+global_header')],
    [
      'no audio, tee output last',
      (t, a) => {
        t.ok(a.includes('-an'));
        t.same(a.slice(-3, -1), ['-f', 'tee']);
      },
    ],
    ['no motion pipe unless asked', (t, a) => t.notOk(a.includes('pipe:3'))],
  ];
  const modes: Array<[string, CaptureInput, Array<[string, (t: Test, args: string[]) => void]>]> = [
    [
      'relative (csi producers, file:)',
      RAW,
      [
        [
          '-itsoffset with the offset in six decimals, before the input',
          (t, a) => {
            t.equal(after(a, '-itsoffset'), '0.400000');
            t.ok(a.indexOf('-itsoffset') < a.indexOf('-i'));
            inputBlock(t, a, RAW);
          },
        ],
        [
          '-copyts -start_at_zero after the input',
          (t, a) => {
            t.ok(a.indexOf('-copyts') > a.indexOf('-i'));
            t.equal(a[a.indexOf('-copyts') + 1], '-start_at_zero');
          },
        ],
        [
          'no filter graph for a raw capture without filters: the input is mapped directly',
          (t, a) => {
            t.notOk(a.includes('-filter_complex'));
            t.equal(after(a, '-map'), '0:v:0');
          },
        ],
        [
          '-force_key_frames carries the offset',
          (t, a) => t.equal(after(a, '-force_key_frames'), keyframeExpression(1, 0.4)),
        ],
        ['no encoder time base', (t, a) => t.notOk(a.includes('-enc_time_base:v'))],
      ],
    ],
    [
      'wall clock (v4l2, rtsp, http, test pattern)',
      WALL,
      [
        [
          '-itsoffset minus the base in six decimals, before the input',
          (t, a) => {
            t.equal(after(a, '-itsoffset'), '-1700000400.000000');
            t.ok(a.indexOf('-itsoffset') < a.indexOf('-use_wallclock_as_timestamps'));
            inputBlock(t, a, WALL);
          },
        ],
        [
          '-copyts without -start_at_zero: packet times stay wall clock less the base',
          (t, a) => {
            t.ok(a.indexOf('-copyts') > a.indexOf('-i'));
            t.notOk(a.includes('-start_at_zero'));
          },
        ],
        [
          'the first frame is put on a keyframe boundary (stamped back, or the frames before one dropped)',
          (t, a) => {
            t.equal(after(a, '-filter_complex'), `[0:v]${ALIGN}[c];[c]null[v]`);
            t.equal(after(a, '-map'), '[v]');
          },
        ],
        [
          '-enc_time_base:v 1:1000 after the encoder options, before the keyframes',
          (t, a) => {
            t.equal(after(a, '-enc_time_base:v'), '1:1000');
            const i = a.indexOf('-map');
            t.equal(a.indexOf('-enc_time_base:v'), i + 2 + X264.outputArgs.length);
            t.ok(a.indexOf('-enc_time_base:v') < a.indexOf('-force_key_frames'));
          },
        ],
        [
          '-force_key_frames with offset 0: t already is the timeline',
          (t, a) => t.equal(after(a, '-force_key_frames'), keyframeExpression(1, 0)),
        ],
      ],
    ],
  ];
  for (const [mode, capture, specific] of modes) {
    t.test(mode, async (t) => {
      const args = buildPipelineArgs(input({ capture }));
      for (const [name, check] of [...common, ...specific]) t.test(name, async (t) => check(t, args));
    });
  }
  t.test('a base off the whole second keeps its six decimals', async (t) => {
    const args = buildPipelineArgs(
      input({ capture: WALL, timeline: { baseSeconds: BASE + 0.25, offsetSeconds: 0.4 } }),
    );
    t.equal(after(args, '-itsoffset'), '-1700000400.250000');
  });
  t.test('the boundaries follow the keyframe interval, the run start its offset', async (t) => {
    const args = buildPipelineArgs(
      input({ capture: WALL, keyframeSeconds: 2, timeline: { baseSeconds: BASE, offsetSeconds: 1.5 } }),
    );
    t.equal(
      after(args, '-filter_complex'),
      "[0:v]select='gte(floor(start_t/2)*2,1.500000)*lte(start_t-floor(start_t/2)*2,0.5)+gte(t,ceil(start_t/2)*2)'," +
        "setpts='if(eq(N,0),floor(T/2)*2/TB,PTS)'[c];[c]null[v]",
    );
    t.equal(after(args, '-force_key_frames'), keyframeExpression(2, 0));
  });
});

t.test('tee target: hls and segment slaves', async (t) => {
  const dirs = {
    hls: { dir: '/run/hls', segmentSeconds: 2, listSize: 5 },
    recording: { dir: '/srv/part', segmentSeconds: 600 },
  };
  const recordingWant = {
    f: 'segment',
    segment_time: '600',
    segment_format: 'mpegts',
    segment_format_options: 'flush_packets=1',
    reset_timestamps: '1',
    segment_list: '/srv/part/segments.csv',
    segment_list_type: 'csv',
    onfail: 'abort',
  };
  const modes: Array<[string, CaptureInput, string | undefined]> = [
    ['relative: cut by timestamps', RAW, undefined],
    ['wall clock: cut at the clock', WALL, '1'],
  ];
  for (const [mode, capture, atClock] of modes) {
    t.test(mode, async (t) => {
      const [hls, rec, extra] = teeSlaves(buildPipelineArgs(input({ capture, ...dirs })).at(-1)!);
      t.equal(extra, undefined, 'exactly two slaves');
      const cases: Array<[string, Map<string, string>, Record<string, string>]> = [
        [
          'hls slave: segment length, window, epoch numbering, abort on failure',
          hls!.options,
          {
            f: 'hls',
            hls_time: '2',
            hls_init_time: '0.25',
            hls_list_size: '5',
            hls_start_number_source: 'epoch',
            hls_segment_filename: '/run/hls/seg-%d.ts',
            onfail: 'abort',
          },
        ],
        [
          'segment slave: mpegts flushed per packet, wall-clock length, csv list, abort on failure',
          rec!.options,
          recordingWant,
        ],
      ];
      for (const [name, options, want] of cases) {
        t.test(name, async (t) => {
          for (const [key, value] of Object.entries(want)) t.equal(options.get(key), value, key);
        });
      }
      t.equal(
        rec!.options.get('segment_atclocktime'),
        atClock,
        atClock ? 'segment_atclocktime=1' : 'no segment_atclocktime',
      );
      t.notOk(rec!.options.has('strftime'), 'no strftime: partials are numbered');
      t.same(
        hls!.options.get('hls_flags')!.split('+').sort(),
        ['delete_segments', 'independent_segments', 'omit_endlist', 'program_date_time', 'temp_file'],
        'hls flags delete old segments and never end the list',
      );
      t.equal(hls!.output, '/run/hls/index.m3u8', 'the playlist');
      t.equal(rec!.output, '/srv/part/rec-%06d.ts', 'the numbered recording pattern');
    });
  }
});

t.test('tee target: the live view slave, only when asked', async (t) => {
  const cases: Array<[string, Partial<PipelineArgsInput>, boolean]> = [
    ['encode, live asked: a third slave', { live: true }, true],
    [
      'copy mode, live asked: a third slave (the copied stream muxed again)',
      { capture: H264_WALL, encoder: null, live: true },
      true,
    ],
    ['live not asked: two slaves', {}, false],
    ['live false: two slaves', { live: false }, false],
  ];
  for (const [name, over, wanted] of cases) {
    t.test(name, async (t) => {
      const slaves = teeSlaves(teeTarget(buildPipelineArgs(input(over))));
      t.equal(slaves.length, wanted ? 3 : 2);
      if (!wanted) return;
      const live = slaves[2]!;
      t.equal(live.output, 'pipe:4', "written to fd 4, the agent's pipe");
      t.equal(live.options.get('f'), 'mp4');
      t.same(
        live.options.get('movflags')!.split('+').sort(),
        ['default_base_moof', 'empty_moov', 'frag_every_frame', 'skip_trailer'],
        'init first, one fragment per frame',
      );
      t.equal(live.options.get('onfail'), 'ignore', 'a closed live pipe never stops HLS and the recording');
      t.equal(slaves[0]!.options.get('onfail'), 'abort', 'the others still abort');
    });
  }
});

t.test('copy mode: an encoded capture with no encoder', async (t) => {
  const motion = { width: 64, height: 36, fps: 2 };
  const common: Array<[string, (t: Test, args: string[]) => void]> = [
    [
      '-c:v copy right after the map of the input stream',
      (t, a) => t.same(a.slice(a.indexOf('-map'), a.indexOf('-map') + 4), ['-map', '0:v:0', '-c:v', 'copy']),
    ],
    ['no forced keyframes (the producer or camera decides them)', (t, a) => t.notOk(a.includes('-force_key_frames'))],
    [
      'no -fps_mode, +global_header or encoder time base',
      (t, a) => t.notOk(a.includes('-fps_mode') || a.includes('-flags') || a.includes('-enc_time_base:v')),
    ],
    ['no filter graph (so no alignment), even with motion asked for', (t, a) => t.notOk(a.includes('-filter_complex'))],
    [
      'motion from a decode of its own: a second output after the tee, never a filter on the copy',
      (t, a) => {
        t.same(a.slice(a.indexOf(teeTarget(a)) + 1), [
          '-map',
          '0:v:0',
          '-vf',
          'fps=2,scale=64:36,format=gray',
          '-f',
          'rawvideo',
          '-pix_fmt',
          'gray',
          'pipe:3',
        ]);
      },
    ],
  ];
  const modes: Array<[string, CaptureInput, Array<[string, (t: Test, args: string[]) => void]>]> = [
    [
      'relative (producer H.264)',
      H264,
      [
        [
          'timestamps still moved onto the timeline by the offset',
          (t, a) => {
            t.equal(after(a, '-itsoffset'), '0.400000');
            inputBlock(t, a, H264);
            t.equal(a[a.indexOf('-copyts') + 1], '-start_at_zero');
          },
        ],
        ['no segment_atclocktime', (t, a) => t.notOk(teeSlaves(teeTarget(a))[1]!.options.has('segment_atclocktime'))],
      ],
    ],
    [
      'wall clock (camera H.264)',
      H264_WALL,
      [
        [
          'still -itsoffset minus the base and -copyts, without -start_at_zero',
          (t, a) => {
            t.equal(after(a, '-itsoffset'), '-1700000400.000000');
            inputBlock(t, a, H264_WALL);
            t.notOk(a.includes('-start_at_zero'));
          },
        ],
        [
          'segment_atclocktime=1',
          (t, a) => t.equal(teeSlaves(teeTarget(a))[1]!.options.get('segment_atclocktime'), '1'),
        ],
      ],
    ],
  ];
  for (const [mode, capture, specific] of modes) {
    t.test(mode, async (t) => {
      const args = buildPipelineArgs(input({ capture, encoder: null, motion }));
      for (const [name, check] of [...common, ...specific]) t.test(name, async (t) => check(t, args));
    });
  }
});

t.test('filter graph', async (t) => {
  const cases: Array<[string, Partial<PipelineArgsInput>, string | undefined, string]> = [
    [
      'capture filter only',
      { capture: { ...RAW, filter: 'scale=1280:720,fps=30' } },
      '[0:v]scale=1280:720,fps=30[c];[c]null[v]',
      '[v]',
    ],
    ['encoder filter only (vaapi upload)', { encoder: VAAPI }, '[0:v]format=nv12,hwupload[v]', '[v]'],
    [
      'capture filter chained before the encoder filter',
      { capture: { ...RAW, filter: 'scale=640:360' }, encoder: VAAPI },
      '[0:v]scale=640:360[c];[c]format=nv12,hwupload[v]',
      '[v]',
    ],
    [
      'motion branch: split, grey frames at the motion rate and size',
      { motion: { width: 64, height: 36, fps: 2 } },
      '[0:v]split=2[a][b];[a]null[v];[b]fps=2,scale=64:36,format=gray[m]',
      '[v]',
    ],
    [
      'motion branch after the capture filter, with the encoder filter on the main branch',
      { capture: { ...RAW, filter: 'scale=640:360' }, encoder: VAAPI, motion: { width: 32, height: 18, fps: 1 } },
      '[0:v]scale=640:360[c];[c]split=2[a][b];[a]format=nv12,hwupload[v];[b]fps=1,scale=32:18,format=gray[m]',
      '[v]',
    ],
    ['nothing to filter', {}, undefined, '0:v:0'],
    ['wall clock: the alignment filters alone', { capture: WALL }, `[0:v]${ALIGN}[c];[c]null[v]`, '[v]'],
    [
      'wall clock: alignment chained before the capture filter',
      { capture: { ...WALL, filter: 'scale=1280:720,fps=30' } },
      `[0:v]${ALIGN},scale=1280:720,fps=30[c];[c]null[v]`,
      '[v]',
    ],
    [
      'wall clock: alignment, capture filter, then the encoder filter',
      { capture: { ...WALL, filter: 'scale=640:360' }, encoder: VAAPI },
      `[0:v]${ALIGN},scale=640:360[c];[c]format=nv12,hwupload[v]`,
      '[v]',
    ],
    [
      'wall clock: alignment before the motion split (both branches aligned)',
      { capture: WALL, motion: { width: 64, height: 36, fps: 2 } },
      `[0:v]${ALIGN}[c];[c]split=2[a][b];[a]null[v];[b]fps=2,scale=64:36,format=gray[m]`,
      '[v]',
    ],
    [
      'wall clock: alignment, capture filter, split, encoder filter on the main branch',
      { capture: { ...WALL, filter: 'scale=640:360' }, encoder: VAAPI, motion: { width: 32, height: 18, fps: 1 } },
      `[0:v]${ALIGN},scale=640:360[c];[c]split=2[a][b];[a]format=nv12,hwupload[v];[b]fps=1,scale=32:18,format=gray[m]`,
      '[v]',
    ],
  ];
  for (const [name, over, graph, map] of cases) {
    t.test(name, async (t) => {
      const args = buildPipelineArgs(input(over));
      t.equal(after(args, '-filter_complex'), graph);
      t.equal(after(args, '-map'), map);
    });
  }
  t.test('vaapi device goes before the inputs', async (t) => {
    for (const capture of [RAW, WALL]) {
      const args = buildPipelineArgs(input({ capture, encoder: VAAPI }));
      t.ok(args.indexOf('-vaapi_device') < args.indexOf('-itsoffset'), capture.description);
    }
  });
  t.test('motion output: the [m] label as raw grey on fd 3, after the tee output', async (t) => {
    for (const capture of [RAW, WALL]) {
      const args = buildPipelineArgs(input({ capture, motion: { width: 64, height: 36, fps: 2 } }));
      t.same(
        args.slice(args.indexOf('tee') + 2),
        ['-map', '[m]', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:3'],
        capture.description,
      );
    }
  });
});

t.test('tee escaping: both levels, as FFmpeg reads them', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    ['plain path unchanged', '/srv/archive/cam0', '/srv/archive/cam0', '/srv/archive/cam0'],
    [
      'colon (option separator) escaped for the option level, then its backslash for the slave level',
      'C:/x',
      'C\\\\:/x',
      'C:/x',
    ],
    ['pipe (slave separator)', 'a|b', 'a\\|b', 'a\\|b'],
    ['closing bracket ends an option list', 'x]y', 'x\\\\]y', 'x]y'],
    ['quote', "a'b", "a\\\\\\'b", "a\\'b"],
    ['white space', 'a b', 'a\\\\\\ b', 'a\\ b'],
    ['backslash itself', 'a\\b', 'a\\\\\\\\b', 'a\\\\b'],
  ];
  for (const [name, value, option, output] of cases) {
    t.test(name, async (t) => {
      t.equal(teeOptionValue(value), option, 'option value');
      t.equal(teeOutput(value), output, 'output');
    });
  }

  // Issue 15: a ':' in hls.dir (one level of escaping) started new tee options.
  const hostile = "/run/a:hls_list_size=1:x|[f=mpegts]/tmp/evil.ts|b'c d\\e%f]";
  t.test('a folder with every special character survives into the tee target as FFmpeg reads it', async (t) => {
    const target = buildPipelineArgs(
      input({
        hls: { dir: hostile, segmentSeconds: 1, listSize: 3 },
        recording: { dir: `${hostile}/rec`, segmentSeconds: 600 },
      }),
    ).at(-1)!;
    const slaves = teeSlaves(target);
    t.equal(slaves.length, 2, 'still exactly two slaves');
    const [hls, rec] = slaves;
    t.equal(hls!.output, `${hostile}/index.m3u8`);
    t.equal(hls!.options.get('hls_segment_filename'), `${hostile}/seg-%d.ts`);
    t.equal(hls!.options.get('hls_list_size'), '3', 'no option injected');
    t.same([...hls!.options.keys()].sort(), [
      'f',
      'hls_flags',
      'hls_init_time',
      'hls_list_size',
      'hls_segment_filename',
      'hls_start_number_source',
      'hls_time',
      'onfail',
    ]);
    t.equal(rec!.options.get('segment_list'), `${hostile}/rec/segments.csv`);
    t.equal(
      rec!.output,
      `${hostile.replace(/%/g, '%%')}/rec/rec-%06d.ts`,
      'a literal % doubled in the segment pattern',
    );
  });
});

// A tiny evaluator for FFmpeg's expression language, enough for the keyframe expression:
// numbers, variables, + - * /, parentheses and the functions if, isnan, gte, eq, floor, ceil.
function evaluate(expr: string, vars: Record<string, number>): number {
  let pos = 0;
  const peek = (): string => expr[pos] ?? '';
  const expect = (c: string): void => {
    if (expr[pos] !== c) throw new Error(`expected ${c} at ${pos} in ${expr}`);
    pos += 1;
  };
  const functions: Record<string, (...a: number[]) => number> = {
    if: (c, a, b) => (c !== 0 ? a! : (b ?? 0)),
    isnan: (x) => (Number.isNaN(x) ? 1 : 0),
    gte: (a, b) => (a! >= b! ? 1 : 0),
    eq: (a, b) => (a === b ? 1 : 0),
    floor: (x) => Math.floor(x!),
    ceil: (x) => Math.ceil(x!),
    lte: (a, b) => (a! <= b! ? 1 : 0),
  };
  function primary(): number {
    if (peek() === '(') {
      pos += 1;
      const v = sum();
      expect(')');
      return v;
    }
    if (peek() === '-') {
      pos += 1;
      return -primary();
    }
    const num = /^\d+(\.\d+)?/.exec(expr.slice(pos));
    if (num) {
      pos += num[0].length;
      return Number(num[0]);
    }
    const name = /^[A-Za-z_]+/.exec(expr.slice(pos));
    if (!name) throw new Error(`unexpected ${peek()} at ${pos}`);
    pos += name[0].length;
    if (peek() === '(') {
      pos += 1;
      const args = [sum()];
      while (peek() === ',') {
        pos += 1;
        args.push(sum());
      }
      expect(')');
      const fn = functions[name[0]];
      if (!fn) throw new Error(`unknown function ${name[0]}`);
      return fn(...args);
    }
    if (!(name[0] in vars)) throw new Error(`unknown variable ${name[0]}`);
    return vars[name[0]]!;
  }
  function product(): number {
    let v = primary();
    while (peek() === '*' || peek() === '/') {
      const op = expr[pos++];
      const r = primary();
      v = op === '*' ? v * r : v / r;
    }
    return v;
  }
  function sum(): number {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const op = expr[pos++];
      const r = product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }
  const value = sum();
  if (pos !== expr.length) throw new Error(`trailing input at ${pos} in ${expr}`);
  return value;
}

/** The frame indexes FFmpeg would force as keyframes for frames at `fps` over `seconds`. */
function forcedFrames(expression: string, fps: number, seconds: number): number[] {
  const body = expression.replace(/^expr:/, '');
  const forced: number[] = [];
  let prev = Number.NaN;
  for (let n = 0; n < fps * seconds; n += 1) {
    const time = n / fps;
    if (evaluate(body, { t: time, prev_forced_t: prev, n, n_forced: forced.length }) !== 0) {
      forced.push(n);
      prev = time;
    }
  }
  return forced;
}

t.test('keyframeExpression evaluated', async (t) => {
  const cases: Array<[string, number, number, number, number, number[]]> = [
    // name, k, offset, fps, seconds, keyframe frame indexes
    [
      'offset 0.4, k=1 at 10 fps: the first frame, one 0.25 s on (the short first segment), then where t+0.4 crosses a whole second',
      1,
      0.4,
      10,
      4,
      [0, 3, 6, 16, 26, 36],
    ],
    ['offset 0, k=1 at 10 fps: every 10th frame, and the early one', 1, 0, 10, 3, [0, 3, 10, 20]],
    ['offset 0.4, k=2 at 10 fps: where t+0.4 crosses an even second', 2, 0.4, 10, 6, [0, 3, 16, 36, 56]],
    [
      'offset 0.95, k=1 at 30 fps: crossing a second between frames picks the first frame after it',
      1,
      0.95,
      30,
      3,
      [0, 2, 32, 62],
    ],
    ['offset 599.4 (late in a 10-minute archive), k=1 at 10 fps', 1, 599.4, 10, 2, [0, 3, 6, 16]],
    [
      'offset 8/15 at 15 fps (no exact decimal): the frame on the boundary, not the one after',
      1,
      8 / 15,
      15,
      3,
      [0, 4, 7, 22, 37],
    ],
  ];
  for (const [name, k, offset, fps, seconds, want] of cases) {
    t.test(name, async (t) => {
      const expression = keyframeExpression(k, offset);
      const forced = forcedFrames(expression, fps, seconds);
      t.same(forced, want);
      // Every forced frame after the first sits on the first frame at or after a multiple of k,
      // but for the one early keyframe: the first frame FIRST_SEGMENT_SECONDS on, if no boundary came first.
      const early = forced[1] !== undefined && forced[1] / fps >= FIRST_SEGMENT_SECONDS ? forced[1] : -1;
      t.ok(early < 0 || (early - 1) / fps < FIRST_SEGMENT_SECONDS, 'the early keyframe is the first frame past it');
      for (const n of forced.slice(1).filter((m) => m !== early)) {
        const wall = n / fps + offset;
        t.ok(
          Math.floor((wall + 1e-9) / k) > Math.floor((wall - 1 / fps + 1e-9) / k),
          `frame ${n} is the first of its ${k}-s slot`,
        );
      }
    });
  }
  t.test('offsets are rounded up to the microsecond, never down', async (t) => {
    t.equal(offsetText(8 / 15), '0.533334', '8/15 s: rounded down the boundary frame would sit 0.3 µs early');
    t.equal(offsetText(1 / 15), '0.066667');
    t.equal(offsetText(0.4), '0.400000', 'an exact offset stays as it is');
    t.equal(offsetText(0), '0.000000');
  });
  t.test('the expression names FFmpeg variables only', async (t) => {
    t.match(keyframeExpression(1, 0.4), /^expr:if\(isnan\(prev_forced_t\),1,gte\(floor\(\(t\+0\.400000\)\/1\)/);
  });
});

t.test('wall clock: first frame aligned, then keyframes evaluated', async (t) => {
  // name, k, the run's start and its first frame on the timeline, fps, seconds of frames,
  // the first frame's time as encoded, keyframe times (the first frame's as encoded)
  const cases: Array<[string, number, number, number, number, number, number, number[]]> = [
    [
      'no boundary since the start: frames from 1.07 (stamped 1.0), the early keyframe, then each second',
      1,
      0.4,
      0.77,
      10,
      4,
      1,
      [1, 1.27, 2.07, 3.07, 4.07],
    ],
    [
      'a boundary between the start and the first frame (0.37 s before it): nothing dropped, stamped back',
      1,
      0.8,
      1.37,
      10,
      2,
      1,
      [1, 1.47, 2.07, 3.07],
    ],
    ['first frame on a boundary is kept as it is', 1, 1.9, 2, 10, 2, 2, [2, 2.3, 3]],
    [
      'the boundary before the start is never used (an earlier run may have recorded there)',
      1,
      1.1,
      1.3,
      10,
      2,
      2,
      [2, 2.3, 3],
    ],
    ['k=2: nothing before the next even second', 2, 0.5, 0.55, 10, 6, 2, [2, 2.25, 4.05, 6.05]],
    ['k=2: an even second between the start and the first frame', 2, 1.5, 2.35, 10, 4, 2, [2, 2.45, 4.05, 6.05]],
    [
      'a late first frame (camera start-up, 7.9 s in): never held more than half a second, waits for second 8',
      1,
      0.4,
      7.9,
      30,
      2,
      8,
      [8, 7.9 + 11 / 30, 8.9 + 3 / 30],
    ],
  ];
  for (const [name, k, start, first, fps, seconds, firstEncoded, keyframes] of cases) {
    t.test(name, async (t) => {
      const graph = after(
        buildPipelineArgs(
          input({ capture: WALL, keyframeSeconds: k, timeline: { baseSeconds: BASE, offsetSeconds: start } }),
        ),
        '-filter_complex',
      )!;
      const select = /select='([^']*)'/.exec(graph)![1]!;
      const setpts = /setpts='([^']*)'/.exec(graph)![1]!;
      const force = keyframeExpression(k, 0).replace(/^expr:/, '');
      const encoded: number[] = [];
      const forced: number[] = [];
      let prev = Number.NaN;
      for (let n = 0; n < fps * seconds; n += 1) {
        const captured = Math.round((first + n / fps) * 1e6) / 1e6;
        if (evaluate(select, { t: captured, start_t: first }) === 0) continue;
        // Time base 1 s, so PTS is T.
        const time = evaluate(setpts, { N: encoded.length, T: captured, PTS: captured, TB: 1 });
        t.ok(time >= start, `never stamped before the run started (${time})`);
        t.ok(captured - time <= FIRST_FRAME_HOLD_SECONDS + 1e-9, `never held more than ${FIRST_FRAME_HOLD_SECONDS} s`);
        encoded.push(time);
        const rel = Math.round((time - encoded[0]!) * 1e6) / 1e6;
        if (evaluate(force, { t: rel, prev_forced_t: prev, n_forced: forced.length }) !== 0) {
          forced.push(time);
          prev = rel;
        }
      }
      t.ok(Math.abs(encoded[0]! - firstEncoded) < 1e-6, `first frame encoded at ${encoded[0]}`);
      t.equal(forced.length, keyframes.length, `keyframes at ${forced.join(', ')}`);
      forced.forEach((time, i) => t.ok(Math.abs(time - keyframes[i]!) < 1e-6, `keyframe ${i} at ${time}`));
      t.equal(forced[0], encoded[0], 'the first frame encoded is a keyframe');
      t.equal(encoded[0]! % k, 0, 'on a keyframe boundary');
    });
  }
});

t.test('isHlsOutput: only what the HLS muxer writes (segments, the playlist, their temp files)', async (t) => {
  for (const name of ['seg-0.ts', 'seg-123.ts', 'seg-7.ts.tmp', 'index.m3u8', 'index.m3u8.tmp'])
    t.equal(isHlsOutput(name), true, name);
  for (const name of ['seg-.ts', 'seg-1.mp4', 'xseg-1.ts', 'seg-1.ts.bak', 'index.m3u8.old', 'notes.txt', 'live.m3u8'])
    t.equal(isHlsOutput(name), false, name);
});
