// #/versions — every model version, newest first.
import { h, fill, fmt, time, badge, table } from '../dom.js';
import { api } from '../api.js';

export function mount(main) {
  const box = h('div', { class: 'table-scroll' });
  fill(main, h('h1', {}, 'Versions'), box);
  async function refresh() {
    const versions = await api.versions();
    fill(box, table({
      id: 'versions-table', caption: 'Model versions, newest first', items: versions, empty: 'No versions yet.',
      columns: ['Version', 'Status', 'Parent', 'Created (UTC)', 'Deltas', 'Devices'],
      rowOf: (v) => h('tr', { dataset: { version: v.version } },
        h('th', { scope: 'row' }, h('a', { href: `#/versions/${encodeURIComponent(v.version)}` }, v.version)),
        h('td', {}, badge(v.status)),
        h('td', {}, v.parent ?? '—'),
        h('td', {}, time(v.createdUtc)),
        h('td', { class: 'num' }, fmt.int(v.deltaCount)),
        h('td', { class: 'num' }, fmt.int(v.deviceCount))),
    }));
  }
  return { refresh, events: ['version', 'decision'] };
}
