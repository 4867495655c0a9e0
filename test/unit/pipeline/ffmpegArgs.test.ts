import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ffmpegEncoderArgs } from '../../../device/encoders/args.js';
import { testPatternInput } from '../../../device/sources/test.js';
import type { CaptureInput } from '../../../device/types.js';
import { buildPipelineArgs, keyframeExpression, offsetText, teeEscape, type PipelineArgsInput } from '../../../agent/pipeline/ffmpegArgs.js';

const run = promisify(execFile);

const RAW: CaptureInput = { inputArgs: ['-f', 'v4l2', '-i', '/dev/video0'], encoded: false, description: 'raw camera' };
const H264: CaptureInput = { inputArgs: ['-f', 'h264', '-i', 'pipe:0'], encoded: true, description: 'producer h264' };
const X264 = ffmpegEncoderArgs('libx264', { width: 1280, height: 720, fps: 30, bitrateKbps: 2000, keyframeSeconds: 1 });
const VAAPI = ffmpegEncoderArgs('h264_vaapi', { width: 1280, height: 720, fps: 30, bitrateKbps: 2000, keyframeSeconds: 1 });

function input(over: Partial<PipelineArgsInput> = {}): PipelineArgsInput {
  return {
    capture: RAW,
    encoder: X264,
    keyframeSeconds: 1,
    timelineOffsetSeconds: 0.4,
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

/** The tee target split into its slaves: options map and output path, unescaped. */
function teeSlaves(target: string): Array<{ options: Map<string, string>; output: string }> {
  // Split on unescaped '|', then each slave is `[k=v:k=v]output`.
  const slaves: string[] = [];
  let current = '';
  for (let i = 0; i < target.length; i += 1) {
    const c = target[i]!;
    if (c === '\\') {
      current += c + target[i + 1];
      i += 1;
    } else if (c === '|') {
      slaves.push(current);
      current = '';
    } else current += c;
  }
  slaves.push(current);
  return slaves.map((slave) => {
    const m = /^\[(.*?[^\\])\](.*)$/.exec(slave);
    if (!m) throw new Error(`not a tee slave: ${slave}`);
    const options = new Map<string, string>();
    for (const pair of m[1]!.split(/(?<!\\):/)) {
      const eq = pair.search(/(?<!\\)=/);
      options.set(pair.slice(0, eq), pair.slice(eq + 1).replace(/\\(.)/g, '$1'));
    }
    return { options, output: m[2]!.replace(/\\(.)/g, '$1') };
  });
}

t.test('libx264 encode: the whole command line', async (t) => {
  const cases: Array<[string, (args: string[]) => void]> = [
    ['progress on stdout every half second', (a) => {
      t.equal(after(a, '-progress'), 'pipe:1');
      t.equal(after(a, '-stats_period'), '0.5');
    }],
    ['-itsoffset with six decimals, before the input', (a) => {
      t.equal(after(a, '-itsoffset'), '0.400000');
      t.ok(a.indexOf('-itsoffset') < a.indexOf('-i'));
    }],
    ['-copyts -start_at_zero after the input', (a) => {
      t.ok(a.indexOf('-copyts') > a.indexOf('-i'));
      t.equal(a[a.indexOf('-copyts') + 1], '-start_at_zero');
    }],
    ['no filter graph for a raw capture without filters: the input is mapped directly', (a) => {
      t.notOk(a.includes('-filter_complex'));
      t.equal(after(a, '-map'), '0:v:0');
    }],
    ['the encoder options follow the map', (a) => {
      const i = a.indexOf('-map');
      t.same(a.slice(i + 2, i + 2 + X264.outputArgs.length), X264.outputArgs);
    }],
    ['-force_key_frames carries the wall-clock expression', (a) => {
      t.equal(after(a, '-force_key_frames'), keyframeExpression(1, 0.4));
    }],
    ['-fps_mode passthrough keeps the capture timestamps', (a) => t.equal(after(a, '-fps_mode'), 'passthrough')],
    ['+global_header for the tee muxer', (a) => t.equal(after(a, '-flags'), '+global_header')],
    ['no audio, tee output last', (a) => {
      t.ok(a.includes('-an'));
      t.same(a.slice(-3, -1), ['-f', 'tee']);
    }],
    ['no motion pipe unless asked', (a) => t.notOk(a.includes('pipe:3'))],
  ];
  const args = buildPipelineArgs(input());
  for (const [name, check] of cases) t.test(name, async () => check(args));
});

t.test('tee target: hls and segment slaves', async (t) => {
  const target = buildPipelineArgs(input({ hls: { dir: '/run/hls', segmentSeconds: 2, listSize: 5 }, recording: { dir: '/srv/part', segmentSeconds: 600 } })).at(-1)!;
  const [hls, rec, extra] = teeSlaves(target);
  t.equal(extra, undefined, 'exactly two slaves');
  const cases: Array<[string, Map<string, string>, Record<string, string>]> = [
    ['hls slave: segment length, window, epoch numbering, abort on failure', hls!.options, {
      f: 'hls',
      hls_time: '2',
      hls_list_size: '5',
      hls_start_number_source: 'epoch',
      hls_segment_filename: '/run/hls/seg-%d.ts',
      onfail: 'abort',
    }],
    ['segment slave: mpegts flushed per packet, wall-clock length, csv list, abort on failure', rec!.options, {
      f: 'segment',
      segment_time: '600',
      segment_format: 'mpegts',
      segment_format_options: 'flush_packets=1',
      reset_timestamps: '1',
      strftime: '1',
      segment_list: '/srv/part/segments.csv',
      segment_list_type: 'csv',
      onfail: 'abort',
    }],
  ];
  for (const [name, options, want] of cases) {
    t.test(name, async (t) => {
      for (const [key, value] of Object.entries(want)) t.equal(options.get(key), value, key);
    });
  }
  t.test('hls flags delete old segments and never end the list', async (t) => {
    t.same(hls!.options.get('hls_flags')!.split('+').sort(), ['delete_segments', 'independent_segments', 'omit_endlist', 'program_date_time', 'temp_file']);
  });
  t.test('outputs: the playlist and the strftime recording pattern', async (t) => {
    t.equal(hls!.output, '/run/hls/index.m3u8');
    t.equal(rec!.output, '/srv/part/rec-%Y%m%dT%H%M%SZ.ts');
  });
});

t.test('copy mode: an encoded capture with no encoder', async (t) => {
  const args = buildPipelineArgs(input({ capture: H264, encoder: null, motion: { width: 64, height: 36, fps: 2 } }));
  const cases: Array<[string, () => void]> = [
    ['-c:v copy right after the map of the input stream', () => t.same(args.slice(args.indexOf('-map'), args.indexOf('-map') + 4), ['-map', '0:v:0', '-c:v', 'copy'])],
    ['no forced keyframes (the producer decides them)', () => t.notOk(args.includes('-force_key_frames'))],
    ['no -fps_mode or +global_header', () => t.notOk(args.includes('-fps_mode') || args.includes('-flags'))],
    ['no filter graph, even with motion asked for', () => t.notOk(args.includes('-filter_complex'))],
    ['no motion pipe: copied H.264 cannot be scaled without a decode', () => t.notOk(args.includes('pipe:3'))],
    ['timestamps still moved onto the wall clock', () => t.equal(after(args, '-itsoffset'), '0.400000')],
  ];
  for (const [name, check] of cases) t.test(name, async () => check());
});

t.test('filter graph', async (t) => {
  const cases: Array<[string, Partial<PipelineArgsInput>, string | undefined, string]> = [
    ['capture filter only', { capture: { ...RAW, filter: 'scale=1280:720,fps=30' } }, '[0:v]scale=1280:720,fps=30[c];[c]null[v]', '[v]'],
    ['encoder filter only (vaapi upload)', { encoder: VAAPI }, '[0:v]format=nv12,hwupload[v]', '[v]'],
    ['capture filter chained before the encoder filter', { capture: { ...RAW, filter: 'scale=640:360' }, encoder: VAAPI }, '[0:v]scale=640:360[c];[c]format=nv12,hwupload[v]', '[v]'],
    ['motion branch: split, grey frames at the motion rate and size', { motion: { width: 64, height: 36, fps: 2 } }, '[0:v]split=2[a][b];[a]null[v];[b]fps=2,scale=64:36,format=gray[m]', '[v]'],
    ['motion branch after the capture filter, with the encoder filter on the main branch', { capture: { ...RAW, filter: 'scale=640:360' }, encoder: VAAPI, motion: { width: 32, height: 18, fps: 1 } },
      '[0:v]scale=640:360[c];[c]split=2[a][b];[a]format=nv12,hwupload[v];[b]fps=1,scale=32:18,format=gray[m]', '[v]'],
    ['nothing to filter', {}, undefined, '0:v:0'],
  ];
  for (const [name, over, graph, map] of cases) {
    t.test(name, async (t) => {
      const args = buildPipelineArgs(input(over));
      t.equal(after(args, '-filter_complex'), graph);
      t.equal(after(args, '-map'), map);
    });
  }
  t.test('vaapi device goes before the inputs', async (t) => {
    const args = buildPipelineArgs(input({ encoder: VAAPI }));
    t.ok(args.indexOf('-vaapi_device') < args.indexOf('-i'));
  });
  t.test('motion output: the [m] label as raw grey on fd 3, after the tee output', async (t) => {
    const args = buildPipelineArgs(input({ motion: { width: 64, height: 36, fps: 2 } }));
    t.same(args.slice(args.indexOf('tee') + 2), ['-map', '[m]', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:3']);
  });
});

t.test('teeEscape', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['plain path unchanged', '/srv/archive/cam0', '/srv/archive/cam0'],
    ['colon (option separator)', 'C:/x', 'C\\:/x'],
    ['pipe (slave separator)', 'a|b', 'a\\|b'],
    ['brackets (option list)', '[x]', '\\[x\\]'],
    ['equals sign', 'k=v', 'k\\=v'],
    ['backslash itself', 'a\\b', 'a\\\\b'],
    ['all at once', '\\:|[]=', '\\\\\\:\\|\\[\\]\\='],
  ];
  for (const [name, value, want] of cases) t.test(name, async (t) => t.equal(teeEscape(value), want));

  t.test('a folder with special characters survives into the tee target', async (t) => {
    const target = buildPipelineArgs(input({ hls: { dir: '/run/a:b|c[d]=e', segmentSeconds: 1, listSize: 3 } })).at(-1)!;
    const [hls] = teeSlaves(target);
    t.equal(hls!.output, '/run/a:b|c[d]=e/index.m3u8');
    t.equal(hls!.options.get('hls_segment_filename'), '/run/a:b|c[d]=e/seg-%d.ts');
  });
});

// A tiny evaluator for FFmpeg's expression language, enough for the keyframe expression:
// numbers, variables, + - * /, parentheses and the functions if, isnan, gte, floor.
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
    floor: (x) => Math.floor(x!),
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
    const name = /^[a-z_]+/.exec(expr.slice(pos));
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
    if (evaluate(body, { t: time, prev_forced_t: prev, n }) !== 0) {
      forced.push(n);
      prev = time;
    }
  }
  return forced;
}

t.test('keyframeExpression evaluated', async (t) => {
  const cases: Array<[string, number, number, number, number, number[]]> = [
    // name, k, offset, fps, seconds, keyframe frame indexes
    ['offset 0.4, k=1 at 10 fps: the first frame, then where t+0.4 crosses a whole second', 1, 0.4, 10, 4, [0, 6, 16, 26, 36]],
    ['offset 0, k=1 at 10 fps: every 10th frame', 1, 0, 10, 3, [0, 10, 20]],
    ['offset 0.4, k=2 at 10 fps: where t+0.4 crosses an even second', 2, 0.4, 10, 6, [0, 16, 36, 56]],
    ['offset 0.95, k=1 at 30 fps: crossing a second between frames picks the first frame after it', 1, 0.95, 30, 3, [0, 2, 32, 62]],
    ['offset 599.4 (late in a 10-minute archive), k=1 at 10 fps', 1, 599.4, 10, 2, [0, 6, 16]],
    ['offset 8/15 at 15 fps (no exact decimal): the frame on the boundary, not the one after', 1, 8 / 15, 15, 3, [0, 7, 22, 37]],
  ];
  for (const [name, k, offset, fps, seconds, want] of cases) {
    t.test(name, async (t) => {
      const expression = keyframeExpression(k, offset);
      const forced = forcedFrames(expression, fps, seconds);
      t.same(forced, want);
      // Every forced frame after the first sits on the first frame at or after a multiple of k.
      for (const n of forced.slice(1)) {
        const wall = n / fps + offset;
        t.ok(Math.floor((wall + 1e-9) / k) > Math.floor((wall - 1 / fps + 1e-9) / k), `frame ${n} is the first of its ${k}-s slot`);
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

t.test('real ffmpeg runs the built command line', async (t) => {
  const dir = t.testdir({ hls: {}, rec: {} });
  const spec = { width: 160, height: 120, fps: 10 };
  const args = buildPipelineArgs({
    capture: testPatternInput(spec),
    encoder: ffmpegEncoderArgs('libx264', { ...spec, bitrateKbps: 300, keyframeSeconds: 1 }),
    keyframeSeconds: 1,
    timelineOffsetSeconds: 0.4,
    hls: { dir: path.join(dir, 'hls'), segmentSeconds: 1, listSize: 5 },
    recording: { dir: path.join(dir, 'rec'), segmentSeconds: 1 },
  });
  // Stop after 3 s of output: the test pattern is paced to real time and never ends by itself.
  const tee = args.lastIndexOf('-f');
  const limited = [...args.slice(0, tee), '-t', '3', ...args.slice(tee)];
  await run('ffmpeg', limited, { env: { ...process.env, TZ: 'UTC' }, timeout: 30_000 });
  const playlist = await readFile(path.join(dir, 'hls', 'index.m3u8'), 'utf8');
  t.match(playlist, /#EXTM3U/);
  t.match(playlist, /seg-\d+\.ts/);
  const list = await readFile(path.join(dir, 'rec', 'segments.csv'), 'utf8');
  const rows = list.trim().split('\n');
  t.ok(rows.length >= 2, `the recording was cut at least once: ${JSON.stringify(list)}`);
  t.match(rows[0]!, /^rec-\d{8}T\d{6}Z\.ts,/);
  // Cuts fall on the wall-clock timeline: the first cut at 1 - 0.4 = 0.6 s of the run.
  t.equal(Math.round(Number(rows[0]!.split(',')[2]) * 10) / 10, 1, 'first recording ends at timeline second 1');
  const files = (await readdir(path.join(dir, 'rec'))).filter((f) => f.endsWith('.ts'));
  t.ok(files.length >= 2);
});
