import { readdir, readFile } from 'node:fs/promises';

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user+system) and RSS (bytes) of one process, or null once it is gone. */
export async function procSample(
  pid: number,
): Promise<{ cpu: number; rss: number; ppid: number; startedSeconds: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS;
    const rss = Number(fields[21]) * 4096;
    // Seconds after boot, as /proc/uptime counts.
    const startedSeconds = Number(fields[19]) / TICKS;
    return { cpu, rss, ppid, startedSeconds };
  } catch {
    return null;
  }
}

/** The process and all its descendants. */
export async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = await procSample(Number(entry));
    if (s) parents.set(Number(entry), s.ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Sums CPU seconds and RSS of a process tree. */
export async function treeSample(root: number): Promise<{ cpu: number; rss: number; perPid: Map<number, number> }> {
  let cpu = 0;
  let rss = 0;
  const perPid = new Map<number, number>();
  for (const pid of await processTree(root)) {
    const s = await procSample(pid);
    if (!s) continue;
    cpu += s.cpu;
    rss += s.rss;
    perPid.set(pid, s.cpu);
  }
  return { cpu, rss, perPid };
}
