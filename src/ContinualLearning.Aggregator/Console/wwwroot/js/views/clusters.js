// #/clusters — concept-aware aggregation: every cluster of the model (cluster 0 is the configured model, cluster k
// the registry model m.c{k}), live or retired, with its release, where it came from and its devices. A cluster's
// versions are one link away (#/versions?model=m.c{k}).
import { h, fill, fmt, time, badge, table } from '../dom.js';
import { api } from '../api.js';

export function mount(main) {
  const intro = h('p', { id: 'clusters-status', class: 'help' });
  const box = h('div', { class: 'table-scroll' });
  fill(main, h('h1', {}, 'Clusters'), intro, box);
  async function refresh() {
    const c = await api.clusters();
    intro.dataset.clustering = String(!!c.clustering);
    intro.dataset.live = String(c.live ?? 0);
    fill(intro, c.clustering
      ? `Concept-aware aggregation is on for ${c.model}: ${fmt.int(c.live)} live of ${fmt.int(c.clusters.length)} clusters. Each cluster is its own model with its own versions, releases and canary; devices get the one their cluster serves.`
      : `Concept-aware aggregation (aggregation:clustering:enabled) is off: every device is served ${c.model}.`);
    fill(box, c.clustering ? table({
      id: 'clusters-table', caption: 'Clusters by id (cluster 0 is the configured model)', items: c.clusters, empty: 'No cluster recorded yet.',
      columns: ['Cluster', 'Model', 'State', 'Release', 'Newest version', 'Created from', 'Creator device', 'Created (UTC)', 'Devices', 'Online'],
      rowOf: (k) => h('tr', { dataset: { cluster: k.cluster, model: k.model, state: k.state, release: k.release ?? '', devices: k.devices, online: k.online } },
        h('th', { scope: 'row' }, String(k.cluster)),
        h('td', {}, h('a', { href: versionsOf(k.model), class: 'mono' }, k.model)),
        h('td', {}, badge(k.state), k.state === 'retired' ? ` ${k.mergedInto === null || k.mergedInto === undefined ? '(evicted)' : `(merged into ${k.mergedInto})`} ${fmt.time(k.retiredUtc)}` : ''),
        h('td', {}, k.release ? h('a', { href: versionOf(k.model, k.release) }, k.release) : '—'),
        h('td', {}, k.newest ? [h('a', { href: versionOf(k.model, k.newest) }, k.newest), ' ', badge(k.newestStatus)] : '—'),
        h('td', {}, k.parentModel ? `${k.parentModel} ${k.parentVersion ?? ''}` : '—'),
        h('td', {}, k.creatorDevice ? h('a', { href: `#/devices/${encodeURIComponent(k.creatorDevice)}` }, k.creatorDevice) : '—'),
        h('td', {}, time(k.createdUtc), k.cluster === 0 ? '' : ` (round ${fmt.int(k.createdRound)})`),
        h('td', { class: 'num' }, fmt.int(k.devices)),
        h('td', { class: 'num' }, fmt.int(k.online))),
    }) : null);
  }
  return { refresh, events: ['version', 'decision', 'overview'] };
}

const versionsOf = (model) => `#/versions?model=${encodeURIComponent(model)}`;
const versionOf = (model, version) => `#/versions/${encodeURIComponent(version)}?model=${encodeURIComponent(model)}`;
