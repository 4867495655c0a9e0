// The search box of the status page: asks /api/search and plays a hit's archive from the event,
// with a media fragment (`/archives/<file>#t=<offset>`) so the browser seeks before it plays.
// Its own file (the page's CSP allows no inline script); model text goes in as text, never HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('search-form');
  if (!form) return;

  const { el } = window.edgeAgentDom;

  const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
  const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

  /** The archive's URL, seeked to the event. */
  function hitUrl(hit) {
    return `/archives/${hit.archive.split('/').map(encodeURIComponent).join('/')}#t=${hit.offsetSeconds}`;
  }

  function play(hit) {
    const wrap = document.querySelector('.search-player-wrap');
    const player = $('search-player');
    wrap.hidden = false;
    $('search-playing').textContent = `${hit.camera} · ${when(hit.start)}${hit.label ? ` · ${hit.label}` : ''}`;
    player.src = hitUrl(hit);
    player.play().catch(() => {});
    wrap.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function render(hits) {
    const box = $('search-results');
    box.replaceChildren(
      ...hits.map((hit) =>
        el(
          'li',
          { 'data-archive': hit.archive, 'data-offset': hit.offsetSeconds },
          el(
            'div',
            { class: 'row' },
            el('span', { class: 'when' }, when(hit.start)),
            el(
              'span',
              { class: 'info' },
              `${hit.camera} · ${clock(hit.offsetSeconds)} into the archive${hit.label ? ` · ${hit.label}` : ''}`,
            ),
            el(
              'span',
              { class: 'actions' },
              el('button', { class: 'play-hit', type: 'button', onclick: () => play(hit) }, 'Play'),
            ),
          ),
          hit.description ? el('p', { class: 'summary' }, hit.description) : null,
          el('p', { class: 'info' }, hit.summary),
        ),
      ),
    );
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const q = $('search-q').value.trim();
    const status = $('search-status');
    if (!q) return;
    status.textContent = 'Searching…';
    try {
      const res = await fetch(`/api/search?${new URLSearchParams({ q, limit: '50' })}`, { cache: 'no-store' });
      const body = await res.json();
      if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
      render(body);
      status.textContent = body.length ? `${body.length} match${body.length === 1 ? '' : 'es'}` : 'No matches.';
    } catch (error) {
      render([]);
      status.textContent = `Search failed: ${error.message}`;
    }
  });
})();
