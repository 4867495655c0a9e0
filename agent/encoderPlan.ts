import type { BoardInfo, EncoderCandidate } from '../device/types.js';
import type { AgentConfig } from './config/types.js';

const LAST_RESORT: EncoderCandidate = { name: 'libx264', where: 'ffmpeg' };

/**
 * The encoders a camera will try, best first, always ending in libx264. `prefer: auto` is the
 * board's probed ladder; an explicit list is probed too unless EDGE_AGENT_TRUST_ENCODERS=1, which
 * lets a technician (or a test) force a list and watch the runtime fallback.
 */
export async function planEncoders(
  config: AgentConfig,
  board: BoardInfo,
  probe: (candidates: EncoderCandidate[]) => Promise<EncoderCandidate[]>,
  ladder: (board: BoardInfo) => EncoderCandidate[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<EncoderCandidate[]> {
  const wanted: EncoderCandidate[] =
    config.encoder.prefer === 'auto'
      ? ladder(board)
      : config.encoder.prefer.map(
          (name) => ladder(board).find((c) => c.name === name) ?? { name, where: 'ffmpeg' as const },
        );
  const working =
    env.EDGE_AGENT_TRUST_ENCODERS === '1' ? wanted : await probe(wanted.filter((c) => c.name !== 'libx264'));
  return [...working.filter((c) => c.name !== 'libx264'), LAST_RESORT];
}
