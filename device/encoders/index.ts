/** The encoder ladder: which H.264 encoders a board may have, and proof of which ones work. */
export { ffmpegEncoderArgs, type EncoderArgs } from './args.js';
export { candidatesForSource, encoderLadder, preferredLadder, PRODUCER_ENCODERS } from './ladder.js';
export { probeEncoder, type EncoderVerdict, type ProbeOptions } from './probe.js';
export { chooseEncoders, type ChooseOptions, type EncoderChoice } from './choose.js';
export { listedH264Encoders } from './listed.js';
