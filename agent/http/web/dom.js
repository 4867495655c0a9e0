// Building page elements, shared by the page's scripts (loaded before them; the CSP allows no
// inline script). Children and attribute values always go in as text, never as HTML: analysis
// text comes from a model.
'use strict';
window.edgeAgentDom = Object.freeze({
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  },
});
