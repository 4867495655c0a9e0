import t from 'tap';
import type { AgentConfig } from '../../agent/config/types.js';
import { planEncoders } from '../../agent/encoderPlan.js';
import type { BoardInfo, EncoderCandidate } from '../../device/types.js';
import { agentConfig } from '../helpers/config.js';

const PI4: BoardInfo = { family: 'pi-legacy', model: 'Raspberry Pi 4 Model B Rev 1.4', kernel: '6.6.31+rpt-rpi-v8' };
const ffmpeg = (name: string): EncoderCandidate => ({ name, where: 'ffmpeg' });
const RPICAM: EncoderCandidate = { name: 'rpicam-h264', where: 'producer' };
const X264 = ffmpeg('libx264');
const LADDER = [RPICAM, ffmpeg('h264_v4l2m2m'), X264];

function config(prefer: AgentConfig['encoder']['prefer']): AgentConfig {
  return agentConfig({ encoder: { prefer, bitrateKbps: 2000 } });
}

interface Case {
  name: string;
  prefer: AgentConfig['encoder']['prefer'];
  env?: NodeJS.ProcessEnv;
  /** Names the fake probe says work. */
  works: string[];
  /** What the probe is asked to test (null: never called). */
  probed: EncoderCandidate[] | null;
  want: EncoderCandidate[];
}

const cases: Case[] = [
  {
    name: 'auto: the board ladder, probed without libx264, then libx264',
    prefer: 'auto',
    works: ['rpicam-h264', 'h264_v4l2m2m'],
    probed: [RPICAM, ffmpeg('h264_v4l2m2m')],
    want: [RPICAM, ffmpeg('h264_v4l2m2m'), X264],
  },
  {
    name: 'auto: only what the probe proved, in ladder order',
    prefer: 'auto',
    works: ['h264_v4l2m2m'],
    probed: [RPICAM, ffmpeg('h264_v4l2m2m')],
    want: [ffmpeg('h264_v4l2m2m'), X264],
  },
  {
    name: 'auto: nothing works (this CI box): libx264 alone',
    prefer: 'auto',
    works: [],
    probed: [RPICAM, ffmpeg('h264_v4l2m2m')],
    want: [X264],
  },
  {
    name: 'explicit list: probed in the given order',
    prefer: ['h264_nvenc', 'h264_vaapi'],
    works: ['h264_vaapi'],
    probed: [ffmpeg('h264_nvenc'), ffmpeg('h264_vaapi')],
    want: [ffmpeg('h264_vaapi'), X264],
  },
  {
    name: 'explicit list naming a ladder rung keeps its producer placement',
    prefer: ['rpicam-h264'],
    works: ['rpicam-h264'],
    probed: [RPICAM],
    want: [RPICAM, X264],
  },
  {
    name: 'explicit list with libx264 first: libx264 not probed, and last exactly once',
    prefer: ['libx264', 'h264_v4l2m2m'],
    works: ['h264_v4l2m2m'],
    probed: [ffmpeg('h264_v4l2m2m')],
    want: [ffmpeg('h264_v4l2m2m'), X264],
  },
  { name: 'explicit list of libx264 only: nothing to probe', prefer: ['libx264'], works: [], probed: [], want: [X264] },
  {
    name: 'EDGE_AGENT_TRUST_ENCODERS=1 with a list: no probe, the list as given',
    prefer: ['h264_nvenc', 'h264_qsv'],
    env: { EDGE_AGENT_TRUST_ENCODERS: '1' },
    works: [],
    probed: null,
    want: [ffmpeg('h264_nvenc'), ffmpeg('h264_qsv'), X264],
  },
  {
    name: 'EDGE_AGENT_TRUST_ENCODERS=1 with auto: the whole ladder, libx264 once',
    prefer: 'auto',
    env: { EDGE_AGENT_TRUST_ENCODERS: '1' },
    works: [],
    probed: null,
    want: [RPICAM, ffmpeg('h264_v4l2m2m'), X264],
  },
  {
    name: 'EDGE_AGENT_TRUST_ENCODERS=1 with libx264 in the middle: moved to the end',
    prefer: ['h264_nvenc', 'libx264', 'h264_qsv'],
    env: { EDGE_AGENT_TRUST_ENCODERS: '1' },
    works: [],
    probed: null,
    want: [ffmpeg('h264_nvenc'), ffmpeg('h264_qsv'), X264],
  },
  {
    name: 'EDGE_AGENT_TRUST_ENCODERS=true is not 1: still probed',
    prefer: ['h264_nvenc'],
    env: { EDGE_AGENT_TRUST_ENCODERS: 'true' },
    works: [],
    probed: [ffmpeg('h264_nvenc')],
    want: [X264],
  },
  {
    name: 'a probe that also returns libx264 does not duplicate it',
    prefer: 'auto',
    works: ['h264_v4l2m2m', 'libx264'],
    probed: [RPICAM, ffmpeg('h264_v4l2m2m')],
    want: [ffmpeg('h264_v4l2m2m'), X264],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    let probed: EncoderCandidate[] | null = null;
    const probe = async (candidates: EncoderCandidate[]): Promise<EncoderCandidate[]> => {
      probed = candidates;
      const extra = c.works.includes('libx264') ? [X264] : [];
      return [...candidates.filter((x) => c.works.includes(x.name)), ...extra];
    };
    const boards: BoardInfo[] = [];
    const ladder = (board: BoardInfo): EncoderCandidate[] => {
      boards.push(board);
      return LADDER;
    };
    const plan = await planEncoders(config(c.prefer), PI4, probe, ladder, c.env ?? {});
    t.same(plan, c.want);
    t.same(probed, c.probed, c.probed === null ? 'the probe is never called' : 'the probe is asked about these');
    t.equal(plan.filter((x) => x.name === 'libx264').length, 1, 'libx264 exactly once');
    t.same(plan.at(-1), X264, 'libx264 last');
    t.ok(
      boards.every((b) => b === PI4),
      'the ladder is asked about this board',
    );
  });
}

t.test('a probe that fails rejects the plan (the caller decides)', async (t) => {
  await t.rejects(
    planEncoders(
      config('auto'),
      PI4,
      async () => Promise.reject(new Error('probe crashed')),
      () => LADDER,
      {},
    ),
    { message: 'probe crashed' },
  );
});
