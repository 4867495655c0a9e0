// The low-latency live view: fragmented MP4 (a fragment per frame) from the agent's WebSocket
// /live/<camera>, played with Media Source Extensions as it arrives. app.js falls back to HLS
// when this cannot play (no MSE or WebSocket, the path refused, nothing playing in time).
'use strict';
(() => {
  const START_TIMEOUT_MS = 8000; // no frame by then: give way to HLS
  const JUMP_LAG_S = 0.5; // further behind the newest frame than this: jump to it
  const CATCH_UP_LAG_S = 0.15; // further behind than this: play slightly fast until caught up
  const KEEP_S = 10; // decoded video kept behind the playhead
  const MAX_QUEUED = 150; // fragments waiting for one append to finish (~5 s): start over instead

  // The codec string MSE wants, from the init segment's avcC box (profile, compatibility, level).
  function codecOf(init) {
    const b = new Uint8Array(init);
    for (let i = 0; i + 8 < b.length; i++) {
      if (b[i] === 0x61 && b[i + 1] === 0x76 && b[i + 2] === 0x63 && b[i + 3] === 0x43) {
        const hex = (n) => n.toString(16).padStart(2, '0');
        return `avc1.${hex(b[i + 5])}${hex(b[i + 6])}${hex(b[i + 7])}`;
      }
    }
    return null;
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p), at);
      at += p.byteLength;
    }
    return out;
  }

  function supported() {
    return typeof window.WebSocket === 'function' && typeof window.MediaSource === 'function';
  }

  // Plays one camera into `video`. done(played) is called once when the stream ends or fails:
  // played says whether any frame was shown (a restart to reconnect to, or a path that never worked).
  function play(video, camera, done) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/live/${encodeURIComponent(camera)}`);
    ws.binaryType = 'arraybuffer';
    const queue = [];
    let source = null;
    let buffer = null;
    let objectUrl = null;
    let played = false;
    let ended = false;
    let appended = 0;
    const startTimer = setTimeout(() => finish(), START_TIMEOUT_MS);

    function finish() {
      if (ended) return;
      ended = true;
      clearTimeout(startTimer);
      video.removeEventListener('timeupdate', onTime);
      ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState <= 1) ws.close();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      done(played);
    }

    function onTime() {
      if (played || video.currentTime <= 0) return;
      played = true;
      clearTimeout(startTimer);
    }

    // Stay at the newest frame: a jump when far behind, a slightly faster rate when a little.
    function chase() {
      const ranges = video.buffered;
      if (!ranges.length) return;
      const end = ranges.end(ranges.length - 1);
      const lag = end - video.currentTime;
      if (lag > JUMP_LAG_S || video.currentTime < ranges.start(0))
        video.currentTime = Math.max(ranges.start(ranges.length - 1), end - 0.05);
      else video.playbackRate = lag > CATCH_UP_LAG_S ? 1.1 : 1;
      if (video.paused) video.play().catch(() => {});
    }

    function pump() {
      if (!buffer || buffer.updating || ended) return;
      const ranges = video.buffered;
      if (++appended % 150 === 0 && ranges.length && video.currentTime - ranges.start(0) > KEEP_S * 2) {
        buffer.remove(0, video.currentTime - KEEP_S);
        return;
      }
      if (!queue.length) return;
      // Everything that came while the last append ran goes in as one: a busy page appends less
      // often instead of falling further behind.
      const next = queue.length === 1 ? queue[0] : concat(queue);
      queue.length = 0;
      try {
        buffer.appendBuffer(next);
      } catch {
        finish();
      }
    }

    function open(init) {
      const codec = codecOf(init);
      const mime = `video/mp4; codecs="${codec}"`;
      if (!codec || !MediaSource.isTypeSupported(mime)) return finish();
      source = new MediaSource();
      objectUrl = URL.createObjectURL(source);
      source.addEventListener(
        'sourceopen',
        () => {
          if (ended) return;
          try {
            buffer = source.addSourceBuffer(mime);
          } catch {
            return finish();
          }
          buffer.mode = 'segments';
          buffer.addEventListener('updateend', () => {
            chase();
            pump();
          });
          buffer.addEventListener('error', finish);
          pump();
        },
        { once: true },
      );
      video.src = objectUrl;
      video.addEventListener('timeupdate', onTime);
      queue.push(init);
    }

    ws.onmessage = (event) => {
      if (!(event.data instanceof ArrayBuffer) || ended) return;
      if (!source) return open(event.data);
      if (queue.length >= MAX_QUEUED) return finish();
      queue.push(event.data);
      pump();
    };
    ws.onclose = finish;
    ws.onerror = finish;
    return { stop: finish };
  }

  window.edgeAgentLive = Object.freeze({ supported, play });
})();
