// Small DOM helpers: elements are built with properties and text nodes, never from HTML strings, so a device id or a
// rejection detail from the fleet can never become markup.

/** h('a', { href: '#/', class: 'x', dataset: { v: '1' } }, 'text', child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (set as attributes: SVG has few reflected properties). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k.startsWith('aria-') || k === 'role' || k === 'for' || k === 'scope' || k === 'colspan') el.setAttribute(k, String(v));
    else if (k in el) el[k] = v;
    else el.setAttribute(k, String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US')),
  acc: (a) => (a === null || a === undefined || Number.isNaN(a) ? '—' : Number(a).toFixed(3)),
  pct: (a) => (a === null || a === undefined || Number.isNaN(a) ? '—' : `${(Number(a) * 100).toFixed(1)} %`),
  // UTC throughout: operators compare the page with logs and the registry, which are UTC.
  time: (iso) => {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  },
  ago: (iso) => {
    if (!iso) return '—';
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (!Number.isFinite(s)) return '—';
    if (s < 60) return `${Math.max(s, 0)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  },
};

/** <time> with the UTC text and the ISO value. */
export function time(iso, relative = false) {
  return h('time', { dateTime: iso ?? '', title: fmt.time(iso) }, relative ? fmt.ago(iso) : fmt.time(iso));
}

/** A status word as a badge; the word itself carries the meaning, the colour only repeats it. */
export function badge(status) {
  const word = status ?? 'unknown';
  return h('span', { class: `badge badge-${String(word).replace(/[^a-z-]/gi, '')}` }, word);
}

/** A table with a caption, header cells (scope=col) and rows built by rowOf(item) → [cells] or a <tr>. */
export function table({ id, caption, columns, items, rowOf, empty = 'None.' }) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c))));
  const body = h('tbody');
  if (!items || items.length === 0) body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty)));
  else for (const item of items) {
    const row = rowOf(item);
    body.append(row instanceof Node ? row : h('tr', {}, row.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c)))));
  }
  return h('table', { id, class: 'data' }, caption ? h('caption', {}, caption) : null, thead, body);
}

/** A labelled number card; value is kept raw in data-value so tests and tools need not parse the text. */
export function stat(id, label, value, note) {
  return h('div', { class: 'stat' },
    h('p', { class: 'stat-label', id: `${id}-label` }, label),
    h('p', { class: 'stat-value', id, dataset: { value: value ?? '' }, 'aria-describedby': `${id}-label` }, fmt.int(value)),
    note ? h('p', { class: 'stat-note' }, note) : null);
}

export function section(title, id, ...children) {
  const headingId = `${id}-heading`;
  return h('section', { class: 'panel', 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), ...children);
}
