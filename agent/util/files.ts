import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** fsyncs a file or a directory, so a rename or a write survives a power cut. */
export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * mkdir -p whose new folders survive a power cut: each created folder's entry lives in its
 * parent, so every parent of a folder it made is fsynced, top down.
 */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  const created: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    created.unshift(at);
    if (at === path.resolve(first) || at === path.dirname(at)) break;
  }
  for (const folder of created) await fsyncPath(path.dirname(folder));
}

/**
 * Writes a file whole or not at all, so a reader sees the old or the new content, never a mix:
 * a temp file in the same folder, fsync, rename, fsync the folder.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    // Without the fsync a power cut after the rename can leave a zero-length file on ext4.
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  // The rename itself lives in the folder; sync it so the new name survives a power cut.
  await fsyncPath(dir);
}

/** Whether a path exists (and is reachable). */
export async function exists(target: string): Promise<boolean> {
  return access(target).then(
    () => true,
    () => false,
  );
}

/** Removes temp files writeFileAtomic left beside `file` when the process died mid-write. */
export async function removeStaleTemps(file: string): Promise<void> {
  const prefix = `.${path.basename(file)}.`;
  const dir = path.dirname(file);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
  }
}
