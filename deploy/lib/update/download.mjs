// Step 2 of an update: fetches the release over HTTP(S) from the operator's server into
// `<file>.part`, never more bytes than the signed manifest names, then renames it into place.
// The bytes are trusted only after step 3 (size, sha256); nothing here decides that.
import { open, rename, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

const MAX_REDIRECTS = 5;
// No byte for this long: the server or the link is gone.
const IDLE_MS = 60_000;

/** Downloads `url` to `file`; throws naming what went wrong (status, size, timeout). */
export async function download(url, file, maxBytes) {
  const part = `${file}.part`;
  await rm(part, { force: true });
  let location = new URL(url);
  for (let hops = 0; ; hops += 1) {
    const response = await get(location);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location && hops < MAX_REDIRECTS) {
      response.resume();
      location = new URL(response.headers.location, location);
      if (location.protocol !== 'http:' && location.protocol !== 'https:')
        throw new Error(`the server redirected to a ${location.protocol} url`);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new Error(`the server answered ${status} for ${safe(location)}`);
    }
    await save(response, part, maxBytes);
    await rename(part, file);
    return;
  }
}

function get(url) {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(
      url,
      { headers: { 'user-agent': 'edge-agent-updater' } },
      resolve,
    );
    request.setTimeout(IDLE_MS, () =>
      request.destroy(new Error(`no answer from ${safe(url)} within ${IDLE_MS / 1000} s`)),
    );
    request.on('error', (error) => reject(new Error(`download from ${safe(url)} failed: ${error.message}`)));
  });
}

async function save(response, part, maxBytes) {
  const handle = await open(part, 'w', 0o600);
  let bytes = 0;
  try {
    response.setTimeout(IDLE_MS, () => response.destroy(new Error(`the download stalled for ${IDLE_MS / 1000} s`)));
    for await (const chunk of response) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        response.destroy();
        throw new Error(`the server sent more than the manifest's ${maxBytes} bytes`);
      }
      await handle.write(chunk);
    }
    if (!response.complete) throw new Error(`the download ended early after ${bytes} bytes`);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(part, { force: true });
    throw error;
  }
  await handle.close();
}

/** The url without credentials or query (a token there must not reach the logs or R/release). */
function safe(url) {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
