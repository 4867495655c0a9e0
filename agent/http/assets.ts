/**
 * The status page's files. There is no build step for the page, so the assets stay in
 * agent/http/web/ and are found from either the source tree or dist/.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The page's own files, by the name they are served under (`/static/<name>`, `/` for index.html). */
export const PAGE_FILES = [
  'index.html',
  'dom.js',
  'live.js',
  'app.js',
  'style.css',
  'search.js',
  'search.css',
] as const;

/**
 * The directory holding index.html: `./web/` next to this module when running from source,
 * `../../../agent/http/web/` when running compiled from dist/agent/http/ (tsc does not copy it).
 */
export function webDir(moduleUrl: string = import.meta.url): string {
  const candidates = [new URL('./web/', moduleUrl), new URL('../../../agent/http/web/', moduleUrl)].map((u) =>
    fileURLToPath(u),
  );
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? (candidates[0] as string);
}

/** The directory of hls.js's prebuilt bundles, resolved like Node resolves the package (works from dist/ too). */
export function hlsJsDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js'));
  } catch {
    return null;
  }
}
