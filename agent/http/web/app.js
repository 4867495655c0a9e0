// The status page: polls /api/status and /api/archives, plays each camera live: the low-latency
// view (live.js) where it works, HLS otherwise.
// Plain browser JavaScript, no build step: the agent serves this file as it is.
// Everything from the agent (analysis text comes from a model) is put in the page as text, never as HTML.
'use strict';
(() => {
  const STATUS_EVERY_MS = 3000;
  const ARCHIVES_EVERY_MS = 15000;
  const STALL_RESET_MS = 12000; // a live player whose time stands still this long is rebuilt
  const $ = (id) => document.getElementById(id);
  const RELIVE_MS = 1000; // a live view that played and ended (a pipeline restart): reconnect after this
  const players = new Map(); // camera id -> { card, video, hls, live, liveFailed, lastTime, lastMove }

  const { el } = window.edgeAgentDom;

  // Retries are the polling loop itself: a failed fetch (agent restarting) just marks the link down.
  // A 401 means the session ended (expired, logged out, a new token): ask for the token again.
  async function fetchJson(url, init = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    try {
      const res = await fetch(url, { cache: 'no-store', signal: ctl.signal, credentials: 'same-origin', ...init });
      if (res.status === 401 && url !== SESSION_URL && $('login').hidden)
        showLogin('Your session has ended: enter the token again.');
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return await res.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // --- session (only when the agent is reachable off loopback) ------------------------------
  // The token is sent once and traded for an HttpOnly session cookie the page never sees; the
  // CSRF token that goes with it is kept in memory for requests that change state.

  const SESSION_URL = '/api/session';
  let csrf = null;

  function showLogin(message) {
    $('login').hidden = false;
    $('content').hidden = true;
    $('logout').hidden = true;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  function hideLogin(required) {
    $('login').hidden = true;
    $('content').hidden = false;
    $('logout').hidden = !required;
  }

  async function login(event) {
    event.preventDefault();
    const token = $('token').value;
    let res;
    try {
      res = await fetch(SESSION_URL, {
        method: 'POST',
        cache: 'no-store',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    } catch {
      $('login-error').textContent = 'The agent is unreachable; try again.';
      return;
    }
    if (res.status === 429) {
      $('login-error').textContent = `Too many wrong tokens: try again in ${res.headers.get('Retry-After') || 60} s.`;
      return;
    }
    if (!res.ok) {
      $('login-error').textContent =
        res.status === 401 ? 'Wrong token.' : `The agent refused the token (HTTP ${res.status}).`;
      return;
    }
    const state = await res.json();
    csrf = state.csrf;
    $('token').value = '';
    hideLogin(true);
    start();
  }

  async function logout() {
    await fetch(SESSION_URL, {
      method: 'DELETE',
      credentials: 'same-origin',
      headers: csrf ? { 'X-CSRF-Token': csrf } : {},
    }).catch(() => {});
    csrf = null;
    for (const p of players.values()) {
      detach(p);
      p.card.remove();
    }
    players.clear();
    showLogin('Signed out.');
  }

  const fmt = {
    bytes(n) {
      if (typeof n !== 'number') return '–';
      const units = ['B', 'KB', 'MB', 'GB', 'TB'];
      let i = 0;
      while (n >= 1000 && i < units.length - 1) {
        n /= 1000;
        i++;
      }
      return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
    },
    duration(s) {
      if (typeof s !== 'number') return '–';
      const d = Math.floor(s / 86400),
        h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60);
      return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${Math.floor(s % 60)}s` : `${Math.round(s)}s`;
    },
    num: (n, digits = 1, unit = '') => (typeof n === 'number' ? `${n.toFixed(digits)}${unit}` : '–'),
    time: (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' }) : '–'),
  };

  let linkDown = false;
  function setLink(ok) {
    // Back after an outage means the agent (and its FFmpeg) restarted: the old stream is gone,
    // so start the players afresh instead of waiting for the stall watchdog.
    if (ok && linkDown)
      for (const p of players.values()) {
        p.liveFailed = false;
        reattach(p);
      }
    linkDown = !ok;
    const link = $('link');
    link.textContent = ok ? 'agent online' : 'agent unreachable, retrying…';
    link.className = `badge ${ok ? 'ok' : 'bad'}`;
  }

  // --- live players -------------------------------------------------------------------------

  function attach(p) {
    p.lastMove = Date.now();
    if (!p.liveFailed && window.edgeAgentLive?.supported()) attachLive(p);
    else attachHls(p);
  }

  // The low-latency view. One that never showed a frame (refused, unsupported codec, a proxy
  // without WebSockets) gives way to HLS until the agent comes back from an outage; one that
  // played and ended (a pipeline restart, too slow a link) reconnects.
  function attachLive(p) {
    p.video.dataset.transport = 'live';
    const session = window.edgeAgentLive.play(p.video, p.camera, (played) => {
      if (p.live !== session) return;
      p.live = null;
      if (!played) p.liveFailed = true;
      setTimeout(
        () => {
          if (!p.live && !p.hls && players.get(p.camera) === p) reattach(p);
        },
        played ? RELIVE_MS : 0,
      );
    });
    p.live = session;
  }

  function attachHls(p) {
    const src = `/hls/${encodeURIComponent(p.camera)}/index.m3u8`;
    p.video.dataset.transport = 'hls';
    // hls.js first where MSE exists: it recovers from the errors an agent restart causes.
    // Native HLS (iPhone Safari without MSE) otherwise; the stall watchdog covers it.
    if (window.Hls && window.Hls.isSupported()) {
      const hls = new window.Hls({
        liveSyncDurationCount: 2,
        manifestLoadingMaxRetry: 10,
        levelLoadingMaxRetry: 10,
        fragLoadingMaxRetry: 6,
      });
      hls.on(window.Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR)
          setTimeout(() => p.hls === hls && hls.startLoad(), 2000);
        else reattach(p);
      });
      hls.loadSource(src);
      hls.attachMedia(p.video);
      p.hls = hls;
    } else if (p.video.canPlayType('application/vnd.apple.mpegurl')) {
      p.video.src = src;
    } else {
      p.card.querySelector('.error').textContent = 'this browser cannot play HLS';
    }
    p.video.play().catch(() => {});
  }

  function detach(p) {
    if (p.hls) {
      p.hls.destroy();
      p.hls = null;
    }
    const live = p.live;
    p.live = null;
    live?.stop();
  }

  function reattach(p) {
    detach(p);
    p.video.removeAttribute('src');
    p.video.load();
    attach(p);
  }

  function watchdog() {
    const now = Date.now();
    for (const p of players.values()) {
      if (p.video.currentTime !== p.lastTime) {
        p.lastTime = p.video.currentTime;
        p.lastMove = now;
        continue;
      }
      if (now - p.lastMove > STALL_RESET_MS && p.running) reattach(p);
    }
  }

  function cameraCard(camera) {
    const video = el('video', {
      class: 'live',
      muted: true,
      autoplay: true,
      playsinline: true,
      controls: true,
      'data-camera': camera,
    });
    video.muted = true; // the attribute alone does not satisfy autoplay rules everywhere
    const card = el(
      'article',
      { class: 'card', 'data-camera': camera },
      el('div', { class: 'head' }, el('h3', {}, camera), el('span', { class: 'badge state unknown' }, '…')),
      video,
      el('dl', { class: 'figures' }),
      el('p', { class: 'error' }),
    );
    const p = {
      camera,
      card,
      video,
      hls: null,
      live: null,
      liveFailed: false,
      lastTime: -1,
      lastMove: Date.now(),
      running: false,
    };
    players.set(camera, p);
    attach(p);
    return card;
  }

  function figure(label, value) {
    return el('div', {}, el('dt', {}, label), el('dd', { 'data-figure': label }, value));
  }

  function renderCameras(cameras) {
    const box = $('cameras');
    if (cameras.length === 0) {
      box.replaceChildren(el('p', { class: 'empty' }, 'No cameras configured.'));
      return;
    }
    box.querySelector('.empty')?.remove();
    const ids = new Set(cameras.map((c) => c.camera));
    for (const [id, p] of players)
      if (!ids.has(id)) {
        detach(p);
        p.card.remove();
        players.delete(id);
      }
    for (const c of cameras) {
      if (!players.has(c.camera)) box.append(cameraCard(c.camera));
      const p = players.get(c.camera);
      const wasRunning = p.running;
      p.running = c.state === 'running';
      if (p.running && !wasRunning && p.lastTime >= 0) reattach(p); // pipeline came back: new stream
      const state = p.card.querySelector('.state');
      state.textContent = c.state;
      state.className = `badge state ${c.state === 'running' ? 'ok' : c.state === 'failed' || c.state === 'stopped' ? 'bad' : 'warn'}`;
      p.card
        .querySelector('.figures')
        .replaceChildren(
          figure('encoder', c.encoder ?? '–'),
          figure('fps', fmt.num(c.fps)),
          figure('restarts', String(c.restarts ?? 0)),
          figure('dropped', String(c.droppedFrames ?? 0)),
          figure(
            'last frame',
            c.lastFrameAgeSeconds === null || c.lastFrameAgeSeconds === undefined
              ? '–'
              : `${c.lastFrameAgeSeconds.toFixed(1)} s ago`,
          ),
          figure('source', c.source ?? '–'),
        );
      p.card.querySelector('.error').textContent = c.lastError ?? '';
    }
  }

  // --- health -------------------------------------------------------------------------------

  function tile(key, label, value, detail, level) {
    return el(
      'div',
      { class: 'tile', 'data-tile': key },
      el('div', { class: 'label' }, label),
      el('div', { class: `value ${level || ''}`, 'data-value': key }, value),
      detail ? el('div', { class: 'detail' }, detail) : null,
    );
  }

  function mqttText(mqtt) {
    if (!mqtt || typeof mqtt !== 'object') return { text: '–', level: 'unknown' };
    const up = mqtt.connected ?? (mqtt.state === 'connected' || mqtt.state === 'online');
    return {
      text: mqtt.state ?? (up ? 'connected' : 'disconnected'),
      level: up ? 'ok' : 'bad',
      detail: mqtt.url ?? mqtt.broker,
    };
  }

  // Jetson: the module's draw (VDD_IN) and the OC events (each one throttled CPU and GPU) since boot.
  function powerTile(rails, oc) {
    const draw = rails.find((r) => r.rail === 'VDD_IN') ?? rails[0];
    const events = oc ? oc.underVoltage + oc.averageOverCurrent + oc.instantOverCurrent : 0;
    const alarm = rails.some((r) => r.alarm);
    return tile(
      'power',
      'Power draw',
      draw ? fmt.num(draw.watts, 1, ' W') : '–',
      [
        rails.map((r) => `${r.rail} ${r.watts.toFixed(1)} W`).join(' · '),
        oc
          ? `OC events since boot: ${oc.underVoltage} under-voltage, ${oc.averageOverCurrent + oc.instantOverCurrent} over-current`
          : null,
      ]
        .filter(Boolean)
        .join(' · '),
      alarm ? 'bad' : events > 0 ? 'warn' : 'ok',
    );
  }

  function renderHealth(status) {
    const h = status.health || {};
    const temps = h.temperatures || [];
    const maxT = h.maxTemperatureCelsius;
    const th = h.throttling;
    const flags = th
      ? Object.entries(th)
          .filter(([k, v]) => k !== 'raw' && v === true)
          .map(([k]) => k.replace(/([A-Z])/g, ' $1').toLowerCase())
      : [];
    const nowBad = h.underVoltage === true || (th && (th.underVoltageNow || th.throttledNow || th.freqCappedNow));
    const disk = status.disk || h.disk;
    const mqtt = mqttText(status.mqtt ?? h.mqtt);
    const outbox = h.outbox ?? status.outbox;
    $('health').replaceChildren(
      ...[
        tile(
          'cpu',
          'CPU',
          fmt.num(h.cpu?.loadPercent, 0, ' %'),
          h.cpu ? `load ${h.cpu.loadAverage.join(' / ')} · ${h.cpu.cores} cores` : null,
        ),
        tile(
          'memory',
          'Memory',
          fmt.num(h.memory?.usedPercent, 0, ' %'),
          h.memory ? `${fmt.bytes(h.memory.availableBytes)} free of ${fmt.bytes(h.memory.totalBytes)}` : null,
        ),
        tile(
          'temperature',
          'Temperature',
          fmt.num(maxT, 1, ' °C'),
          temps.map((t) => `${t.type} ${t.celsius.toFixed(1)}`).join(' · ') || 'no sensors',
          maxT >= 80 ? 'bad' : maxT >= 70 ? 'warn' : 'ok',
        ),
        tile(
          'throttling',
          'Power / throttling',
          nowBad ? 'throttled' : flags.length ? 'ok now' : h.underVoltage === null && !th ? 'n/a' : 'ok',
          flags.length ? `seen: ${flags.join(', ')}` : null,
          nowBad ? 'bad' : flags.length ? 'warn' : 'ok',
        ),
        tile(
          'disk',
          'Archive disk',
          disk ? fmt.num(disk.freePercent, 0, ' % free') : '–',
          disk ? `${fmt.bytes(disk.freeBytes)} of ${fmt.bytes(disk.totalBytes)}` : null,
          disk && disk.freePercent < 10 ? 'bad' : disk && disk.freePercent < 20 ? 'warn' : 'ok',
        ),
        tile(
          'mqtt',
          'Broker link',
          mqtt.text,
          [mqtt.detail, outbox !== undefined ? `outbox ${outbox.depth ?? outbox}` : null].filter(Boolean).join(' · '),
          mqtt.level,
        ),
        h.gpuLoadPercent !== null && h.gpuLoadPercent !== undefined
          ? tile('gpu', 'GPU', fmt.num(h.gpuLoadPercent, 0, ' %'))
          : null,
        h.powerRails ? powerTile(h.powerRails, h.overCurrent) : null,
        tile(
          'process',
          'Agent',
          fmt.bytes(h.process?.rssBytes),
          h.process ? `RSS · up ${fmt.duration(h.process.uptimeSeconds)}` : null,
        ),
      ].filter(Boolean),
    );
  }

  // --- archives -----------------------------------------------------------------------------

  function analysisBlock(a) {
    if (!a) return null;
    const events = Array.isArray(a.events) ? a.events : [];
    return el(
      'div',
      { class: 'analysis' },
      a.summary ? el('p', { class: 'summary' }, a.summary) : null,
      events.length
        ? el(
            'ul',
            { class: 'events' },
            events.map((e) =>
              el(
                'li',
                { class: `sev-${e.severity ?? 'low'}` },
                `${e.start ?? ''}–${e.end ?? ''} ${e.label ?? ''}: ${e.description ?? ''}`,
              ),
            ),
          )
        : null,
    );
  }

  function play(entry) {
    const wrap = document.querySelector('.archive-player-wrap');
    const player = $('archive-player');
    wrap.hidden = false;
    $('archive-playing').textContent = `${entry.camera} · ${fmt.time(entry.start)}`;
    player.src = entry.url;
    player.play().catch(() => {});
    wrap.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function renderArchives(list) {
    const box = $('archives');
    if (!list.length) {
      box.replaceChildren(el('li', { class: 'empty' }, 'No archives yet.'));
      return;
    }
    box.replaceChildren(
      ...list.map((a) =>
        el(
          'li',
          { 'data-file': a.file },
          el(
            'div',
            { class: 'row' },
            el('span', { class: 'when' }, fmt.time(a.start)),
            el(
              'span',
              { class: 'info' },
              `${a.camera} · ${fmt.duration(a.seconds)} · ${fmt.bytes(a.bytes)}${a.clockSynced === false ? ' · clock not synced' : ''}`,
            ),
            el(
              'span',
              { class: 'actions' },
              el('button', { class: 'play', type: 'button', onclick: () => play(a) }, 'Play'),
              el(
                'a',
                { class: 'button secondary download', href: a.url, download: a.file.split('/').pop() },
                'Download',
              ),
            ),
          ),
          analysisBlock(a.analysis),
        ),
      ),
    );
    const latest = list.find((a) => a.analysis);
    $('latest-analysis').hidden = !latest;
    if (latest)
      $('latest-analysis-body').replaceChildren(
        el('p', { class: 'info' }, `${latest.camera} · ${fmt.time(latest.start)}`),
        analysisBlock(latest.analysis),
      );
  }

  // --- polling ------------------------------------------------------------------------------

  async function pollStatus() {
    try {
      const s = await fetchJson('/api/status');
      setLink(true);
      $('device').textContent = s.device ?? 'edge-agent';
      document.title = `${s.device ?? 'edge-agent'} · edge-agent`;
      $('version').textContent = s.version ? `v${s.version}` : '';
      $('uptime').textContent = typeof s.uptime === 'number' ? `up ${fmt.duration(s.uptime)}` : '';
      renderCameras(s.cameras || []);
      renderHealth(s);
    } catch {
      setLink(false);
    }
    setTimeout(pollStatus, STATUS_EVERY_MS);
  }

  async function pollArchives() {
    try {
      renderArchives(await fetchJson('/api/archives?limit=20'));
    } catch {
      // pollStatus reports the link; the old list stays on screen meanwhile.
    }
    setTimeout(pollArchives, ARCHIVES_EVERY_MS);
  }

  let started = false;
  function start() {
    if (started) return;
    started = true;
    pollStatus();
    pollArchives();
    setInterval(watchdog, 2000);
  }

  async function begin() {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    try {
      const state = await fetchJson(SESSION_URL);
      csrf = state.csrf;
      if (state.required && !state.authenticated) {
        showLogin();
        return;
      }
      hideLogin(state.required);
    } catch {
      // An older agent without /api/session, or one restarting: just poll.
    }
    start();
  }

  begin();
})();
