/**
 * Where a `file:` camera source may point: only inside `<dataDir>/media/`, a folder the operator
 * fills with clips. FFmpeg would otherwise read any file the agent can read and put it on the
 * live stream, where `snapshot` and the page show it (issue 15).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder `file:` sources must lie in. */
export function mediaDir(dataDir: string): string {
  return path.join(dataDir, 'media');
}

/** The absolute path a `file:` source names (`file:///x`, `file:/x`; a bare `file:name` is inside the media folder), or null if it names none. */
export function fileSourcePath(source: string, dataDir: string): string | null {
  if (!/^file:/i.test(source)) return null;
  const rest = source.slice('file:'.length);
  try {
    if (rest.startsWith('/')) return path.resolve(fileURLToPath(`file://${rest.startsWith('//') ? rest.slice(2) : rest}`));
    return path.resolve(mediaDir(dataDir), decodeURIComponent(rest));
  } catch {
    return null;
  }
}

/** True when `file` is inside `dir` (both absolute, normalised). */
export function isWithin(dir: string, file: string): boolean {
  return file.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`);
}

/** A config problem for a `file:` source outside the media folder, or null. */
export function fileSourceProblem(source: string, dataDir: string, key: string): string | null {
  if (!/^file:/i.test(source)) return null;
  const file = fileSourcePath(source, dataDir);
  if (file !== null && isWithin(path.resolve(mediaDir(dataDir)), file)) return null;
  return `${key} must be a file: url inside ${mediaDir(dataDir)}/ (dataDir's media folder), got ${JSON.stringify(source)}`;
}
