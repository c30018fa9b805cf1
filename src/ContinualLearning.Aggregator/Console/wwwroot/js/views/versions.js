// #/versions — every version of a model, newest first. With concept-aware aggregation a selector (or
// #/versions?model=m.c1) picks the configured model or one of its cluster models.
import { h, fill, fmt, time, badge, table } from '../dom.js';
import { api } from '../api.js';

export function mount(main, _match, params) {
  const model = params?.get('model') || undefined;
  const picker = h('div');
  const box = h('div', { class: 'table-scroll' });
  fill(main, h('h1', {}, 'Versions', model ? [' of ', h('span', { class: 'mono', id: 'versions-model' }, model)] : null), picker, box);
  const suffix = model ? `?model=${encodeURIComponent(model)}` : '';
  async function refresh() {
    const [versions, clusters] = await Promise.all([api.versions(model), api.clusters()]);
    const shown = model ?? clusters.model;
    fill(picker, clusters.clustering && clusters.clusters.length > 1 ? h('form', { class: 'field', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'model-select' }, 'Model'),
      h('select', {
        id: 'model-select',
        onchange: (e) => { location.hash = e.target.value === clusters.model ? '#/versions' : `#/versions?model=${encodeURIComponent(e.target.value)}`; },
      }, clusters.clusters.map((k) => h('option', { value: k.model, selected: k.model === shown }, `${k.model} (cluster ${k.cluster}${k.state === 'live' ? '' : ', retired'})`)))) : null);
    fill(box, table({
      id: 'versions-table', caption: `Versions of ${shown}, newest first`, items: versions, empty: 'No versions yet.',
      columns: ['Version', 'Status', 'Parent', 'Created (UTC)', 'Deltas', 'Devices'],
      rowOf: (v) => h('tr', { dataset: { version: v.version } },
        h('th', { scope: 'row' }, h('a', { href: `#/versions/${encodeURIComponent(v.version)}${suffix}` }, v.version)),
        h('td', {}, badge(v.status)),
        h('td', {}, v.parent ?? '—'),
        h('td', {}, time(v.createdUtc)),
        h('td', { class: 'num' }, fmt.int(v.deltaCount)),
        h('td', { class: 'num' }, fmt.int(v.deviceCount))),
    }));
  }
  return { refresh, events: ['version', 'decision'] };
}
