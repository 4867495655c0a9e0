/**
 * The one process runner (agent/util/run.ts) with real programs: output kept within its bound,
 * a timeout that kills the program and what it started, and a failure that says how the program
 * ended and what it last wrote on stderr.
 */
import t from 'tap';
import { CommandFailedError, runChecked, runCheckedBytes, runCommand } from '../../../agent/util/run.js';

t.test('runCommand resolves with the exit code and both streams, whatever the code', async (t) => {
  const done = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3']);
  t.match(done, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  await t.rejects(runCommand('/nonexistent/program', []), { code: 'ENOENT' }, 'a program that cannot start rejects');
});

t.test('runChecked: stdout on exit 0; a failure names the program, its exit and its last stderr lines', async (t) => {
  t.equal(await runChecked('sh', ['-c', 'printf 12.5'], { timeoutMs: 5000 }), '12.5');
  const error = await runChecked('sh', ['-c', 'echo one >&2; echo two >&2; echo three >&2; exit 2'], {
    timeoutMs: 5000,
  }).catch((e: unknown) => e);
  t.type(error, CommandFailedError);
  t.equal((error as Error).message, 'sh exited 2: two three');
  t.equal((error as CommandFailedError).stderr, 'one\ntwo\nthree\n', 'the whole stderr stays readable');
});

t.test('a timeout kills the program and anything it started, and says so', async (t) => {
  const started = Date.now();
  // The grandchild would outlive a plain kill of sh: the process group goes.
  const error = await runChecked('sh', ['-c', 'sleep 30 & wait'], { timeoutMs: 300 }).catch((e: unknown) => e);
  t.ok(Date.now() - started < 5000, `returned after ${Date.now() - started} ms`);
  t.match((error as Error).message, /^sh timed out after 0\.3 s/);
  t.ok((error as CommandFailedError).result.timedOut);
});

t.test('bytes are kept as bytes, within maxOutputBytes', async (t) => {
  const bytes = await runCheckedBytes('sh', ['-c', "printf '\\377\\330\\377'"], { timeoutMs: 5000 });
  t.same([...bytes], [0xff, 0xd8, 0xff], 'binary output is not decoded');
  const capped = await runCheckedBytes('head', ['-c', '100000', '/dev/zero'], {
    timeoutMs: 5000,
    maxOutputBytes: 1000,
  });
  t.equal(capped.length, 1000);
});
