import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { LockFile } from '../../../agent/util/lockFile.js';

const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

t.test('acquire writes our pid; release removes it', async (t) => {
  const path = `${t.testdir()}/agent.lock`;
  const lock = new LockFile({ path });
  lock.acquire();
  t.match(readFileSync(path, 'utf8'), `${process.pid}\n`);
  lock.release();
  t.notOk(existsSync(path));
});

t.test('a live holder is refused', async (t) => {
  const path = `${t.testdir()}/agent.lock`;
  writeFileSync(path, `1\n${boot}\n`); // pid 1 is always alive
  t.throws(() => new LockFile({ path }).acquire(), { code: 'internal', message: /pid 1/ });
});

t.test('a dead pid, a pid from before the last reboot or garbage is taken over', async (t) => {
  const dead = spawnSync('true').pid!;
  for (const content of [`${dead}\n${boot}\n`, `1\nsome-other-boot\n`, 'garbage']) {
    const path = `${t.testdir()}/agent.lock`;
    writeFileSync(path, content);
    const lock = new LockFile({ path });
    t.doesNotThrow(() => lock.acquire(), JSON.stringify(content));
    t.match(readFileSync(path, 'utf8'), `${process.pid}\n`);
    lock.release();
  }
});
