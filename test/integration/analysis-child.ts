/**
 * The analysis queue alone in a process, for the kill -9 test: `analysis-child.ts <dir> <baseUrl>
 * [archive.finished event as JSON]`. Runs until killed (SIGTERM stops it cleanly).
 */
import type { AgentEvent } from '../../agent/contract/events.js';
import { makeRig } from './analysisHarness.js';

const [dir, baseUrl, event] = process.argv.slice(2);
const rig = makeRig(dir!, baseUrl!, { deps: { pollMs: 50 } });
await rig.queue.start();
if (event) rig.bus.emit('archive.finished', JSON.parse(event) as AgentEvent<'archive.finished'>);
process.stdout.write('started\n');
process.once('SIGTERM', () => void rig.close().then(() => process.exit(0)));
setInterval(() => undefined, 60_000);
