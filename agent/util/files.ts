import { open, rename, writeFile } from 'node:fs/promises';
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

/** Writes a file whole or not at all: temp file in the same folder, fsync, rename, fsync folder. */
export async function writeFileAtomic(target: string, data: string | Buffer): Promise<void> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  await writeFile(temp, data);
  await fsyncPath(temp);
  await rename(temp, target);
  await fsyncPath(path.dirname(target));
}
