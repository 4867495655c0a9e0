import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hlsJsDir, PAGE_FILES, webDir } from '../../../agent/http/assets.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

t.test('webDir finds the page from source and from dist/ (tsc does not copy it)', async (t) => {
  const fromSource = webDir(pathToFileURL(join(repo, 'agent/http/assets.ts')).href);
  const fromDist = webDir(pathToFileURL(join(repo, 'dist/agent/http/assets.js')).href);
  t.equal(fromSource, join(repo, 'agent/http/web/'));
  t.equal(fromDist, join(repo, 'agent/http/web/'));
  for (const name of PAGE_FILES) t.ok(existsSync(join(fromDist, name)), name);
});

t.test('hls.js bundle is found through package resolution', async (t) => {
  const dir = hlsJsDir();
  t.ok(dir && existsSync(join(dir, 'hls.min.js')));
});
