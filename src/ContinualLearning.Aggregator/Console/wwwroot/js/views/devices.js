// #/devices — every device, searched, sorted and paged by the aggregator (the page holds one page of rows, so
// 10,000 devices cost the browser no more than 50).
import { h, fill, fmt, time, badge } from '../dom.js';
import { api } from '../api.js';

const COLUMNS = [
  { key: 'deviceId', label: 'Device' },
  { key: 'state', label: 'State' },
  { key: 'version', label: 'Version' },
  { key: 'cohort', label: 'Cohort' },
  { key: 'lastSeen', label: 'Last seen' },
  { key: 'accuracy', label: 'Accuracy' },
  { key: null, label: 'Drift' },
  { key: null, label: 'Engine' },
];
const LIMIT = 50;

// Kept across visits of the view while the tab is open.
const state = { search: '', sort: 'deviceId', order: 'asc', offset: 0 };

export function mount(main) {
  const search = h('input', { id: 'device-search', type: 'search', value: state.search, autocomplete: 'off', 'aria-describedby': 'device-search-help' });
  const body = h('tbody');
  const headRow = h('tr');
  const status = h('p', { id: 'device-page-status', class: 'pager-status', role: 'status', 'aria-live': 'polite' });
  const prev = h('button', { id: 'device-page-prev', type: 'button' }, '← Previous');
  const next = h('button', { id: 'device-page-next', type: 'button' }, 'Next →');
  fill(main,
    h('h1', {}, 'Devices'),
    h('div', { class: 'field' },
      h('label', { for: 'device-search' }, 'Search devices'),
      search,
      h('p', { id: 'device-search-help', class: 'help' }, 'Part of a device id, a version or a cohort; case does not matter.')),
    h('div', { class: 'table-scroll' },
      h('table', { id: 'device-table', class: 'data', 'aria-describedby': 'device-page-status' },
        h('caption', {}, 'Devices (sortable: choose a column heading)'),
        h('thead', {}, headRow), body)),
    h('div', { class: 'pager' }, prev, status, next));

  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.search = search.value.trim(); state.offset = 0; refresh(); }, 250);
  });
  prev.addEventListener('click', () => { state.offset = Math.max(0, state.offset - LIMIT); refresh(); });
  next.addEventListener('click', () => { state.offset += LIMIT; refresh(); });

  function renderHead() {
    fill(headRow, COLUMNS.map((c) => {
      if (!c.key) return h('th', { scope: 'col' }, c.label);
      const active = state.sort === c.key;
      const sortWord = active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none';
      return h('th', { scope: 'col', 'aria-sort': sortWord },
        h('button', {
          type: 'button', class: 'sort', dataset: { sort: c.key },
          onclick: () => {
            state.order = state.sort === c.key && state.order === 'asc' ? 'desc' : 'asc';
            state.sort = c.key;
            state.offset = 0;
            refresh();
          },
        }, c.label, h('span', { 'aria-hidden': 'true', class: 'sort-mark' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '')));
    }));
  }

  let seq = 0;
  let latest = Promise.resolve();
  function refresh() {
    latest = show(++seq);
    return latest;
  }

  async function show(mine) {
    const page = await api.devices({ search: state.search, sort: state.sort, order: state.order, offset: state.offset, limit: LIMIT });
    // A newer request (typing, paging, a live update) has been sent since: show only the latest answer, and finish when
    // it is shown, so that the shell marks the view loaded only once the table holds data.
    if (mine !== seq) return latest;
    if (page.total > 0 && state.offset >= page.total) {
      state.offset = Math.floor((page.total - 1) / LIMIT) * LIMIT;
      return refresh();
    }
    renderHead();
    fill(body, page.items.length === 0
      ? h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'muted' }, state.search ? `No device matches “${state.search}”.` : 'No devices yet.'))
      : page.items.map(row));
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.items.length;
    status.dataset.total = page.total;
    fill(status, `${fmt.int(first)}–${fmt.int(last)} of ${fmt.int(page.total)}`);
    prev.disabled = page.offset === 0;
    next.disabled = last >= page.total;
  }

  renderHead();
  return { refresh, events: ['device'], throttleMs: 2000 };
}

function row(d) {
  return h('tr', { dataset: { deviceId: d.deviceId } },
    h('th', { scope: 'row' }, h('a', { href: `#/devices/${encodeURIComponent(d.deviceId)}` }, d.deviceId)),
    h('td', {}, badge(d.state), d.paused ? ' paused' : ''),
    h('td', {}, d.modelVersion ? h('a', { href: `#/versions/${encodeURIComponent(d.modelVersion)}` }, d.modelVersion) : '—'),
    h('td', {}, d.cohort ?? '—'),
    h('td', {}, time(d.lastSeenUtc, true)),
    h('td', { class: 'num', dataset: { value: d.accuracy ?? '' } }, fmt.acc(d.accuracy)),
    h('td', {}, d.drift && d.drift !== 'stable' ? h('span', { class: `badge badge-${d.drift === 'drift' ? 'drift' : 'pending'}` }, `${d.drift}${d.driftDetector ? ` (${d.driftDetector})` : ''}`) : (d.drift ?? '—')),
    h('td', {}, d.engine ?? '—'));
}
