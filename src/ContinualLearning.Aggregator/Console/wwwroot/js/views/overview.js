// #/ — the fleet at a glance: how many devices on which version, the last canary and its numbers, fleet accuracy,
// where drift is detected.
import { h, fill, fmt, time, badge, table, stat, section } from '../dom.js';
import { api } from '../api.js';
import { timeChart, legend, COLORS } from '../charts.js';
import { driftTimeline } from '../svg.js';

const HOURS = 24;

export function mount(main) {
  const counts = h('div', { class: 'stats', id: 'overview-counts' });
  const canary = h('div', { id: 'last-canary', class: 'canary', 'aria-live': 'polite' });
  const latest = h('div', { class: 'latest' });
  const breakdown = h('div', { class: 'grid3' });
  const accuracyChart = h('div', { id: 'accuracy-chart', class: 'chart' });
  const accuracyLegend = h('div');
  const drift = h('div', { class: 'timeline-box' });
  const driftList = h('div');
  fill(main,
    h('h1', {}, 'Fleet overview'),
    counts,
    h('div', { class: 'grid2' },
      section('Versions', 'latest', latest),
      section('Last canary', 'canary', canary)),
    section('Devices by version, cohort and state', 'breakdown', breakdown),
    section(`Fleet accuracy, last ${HOURS} h`, 'accuracy', accuracyChart, accuracyLegend),
    section(`Drift alarms, last ${HOURS} h`, 'drift', drift, driftList));

  async function refresh() {
    const [o, acc, alarms] = await Promise.all([api.overview(), api.accuracy(HOURS), api.drift(HOURS)]);
    const d = o.devices;
    const fleetName = document.getElementById('fleet-name');
    if (fleetName) fleetName.textContent = `Fleet ${o.fleet} · model ${o.model}`;
    fill(counts,
      stat('device-count', 'Devices', d.total),
      stat('online-count', 'Online', d.online),
      stat('offline-count', 'Offline', d.offline),
      stat('drift-count', 'Drift pending', d.driftPending),
      stat('rejections-count', 'Rejected deltas, 24 h', o.rejections24h),
      // Concept-aware aggregation: how many models (clusters) the fleet is served; absent with clustering off.
      o.clusters === null || o.clusters === undefined ? null : stat('cluster-count', 'Live clusters', o.clusters, h('a', { href: '#/clusters' }, 'Clusters →')),
      health(o.aggregator));
    // The release is what devices are told to run; the newest version may be a candidate, a canary or one rolled back.
    fill(latest,
      o.release
        ? h('p', {}, 'Current release ',
          h('a', { id: 'current-release', href: `#/versions/${encodeURIComponent(o.release.version)}`, dataset: { version: o.release.version } }, o.release.version),
          ', released version created ', time(o.release.createdUtc))
        : h('p', { id: 'current-release', class: 'muted' }, 'No release yet.'),
      o.latest
        ? h('p', {}, 'Newest version ',
          h('a', { id: 'latest-version', href: `#/versions/${encodeURIComponent(o.latest.version)}`, dataset: { version: o.latest.version } }, o.latest.version),
          ' ', badge(o.latest.status), ' created ', time(o.latest.createdUtc))
        : h('p', { id: 'latest-version', class: 'muted' }, 'No version yet.'));
    renderCanary(canary, o.lastCanary);
    fill(breakdown,
      countTable('versions-by-count', 'Devices by version', 'Version', d.byVersion, (v) => h('a', { href: `#/versions/${encodeURIComponent(v)}` }, v)),
      countTable('cohorts-by-count', 'Devices by cohort', 'Cohort', d.byCohort),
      countTable('states-by-count', 'Devices by state', 'State', d.byState));
    const series = [{ label: 'Fleet mean accuracy', ...COLORS.fleet }];
    const ys = [acc.map((p) => p.accuracy)];
    timeChart(accuracyChart, { title: `Fleet mean accuracy over the last ${HOURS} h`, series, xs: acc.map((p) => p.t), ys, hours: HOURS });
    fill(accuracyLegend, legend(series, ys));
    fill(drift, driftTimeline(alarms, HOURS));
    const recent = [...alarms].sort((a, b) => String(b.t).localeCompare(String(a.t))).slice(0, 20);
    fill(driftList, table({
      id: 'drift-alarms', caption: `Most recent drift alarms (${recent.length} of ${alarms.length})`,
      columns: ['Device', 'Detector', 'Time (UTC)'], items: recent, empty: 'No drift alarms.',
      rowOf: (a) => [h('a', { href: `#/devices/${encodeURIComponent(a.deviceId)}` }, a.deviceId), a.detector ?? '—', time(a.t)],
    }));
  }

  return { refresh, events: ['device', 'version', 'rollout', 'decision', 'rejection', 'overview'] };
}

function health(a) {
  const ok = a?.healthy;
  return h('div', { class: 'stat' },
    h('p', { class: 'stat-label' }, 'Aggregator'),
    h('p', { class: `stat-value ${ok ? 'ok' : 'bad'}`, id: 'aggregator-health', dataset: { healthy: String(!!ok) } }, ok ? 'healthy' : 'unhealthy'),
    h('p', { class: 'stat-note' }, [a?.reason, a?.brokerConnected === false ? 'broker disconnected' : null, a?.registryBackend ? `registry: ${a.registryBackend}` : null].filter(Boolean).join(' · ')));
}

function renderCanary(el, c) {
  if (!c) {
    el.dataset.verdict = 'none';
    fill(el, h('p', { class: 'muted' }, 'No canary has run yet.'));
    return;
  }
  el.dataset.verdict = c.verdict ?? 'running';
  el.dataset.version = c.version;
  fill(el,
    h('p', { class: 'canary-head' },
      h('a', { href: `#/versions/${encodeURIComponent(c.version)}` }, c.version), ' ', badge(c.verdict ?? 'running'),
      c.controlVersion ? ` against control ${c.controlVersion}` : ''),
    h('dl', { class: 'numbers' },
      h('dt', {}, 'Canary accuracy'), h('dd', { id: 'last-canary-accuracy', dataset: { value: c.canaryAccuracy ?? '' } }, `${fmt.acc(c.canaryAccuracy)} (${fmt.int(c.canaryDevices)} devices)`),
      h('dt', {}, 'Control accuracy'), h('dd', { id: 'last-control-accuracy', dataset: { value: c.controlAccuracy ?? '' } }, `${fmt.acc(c.controlAccuracy)} (${fmt.int(c.controlDevices)} devices)`),
      h('dt', {}, 'Reason'), h('dd', {}, c.reason || '—'),
      h('dt', {}, 'Decided'), h('dd', {}, c.decidedUtc ? time(c.decidedUtc) : 'still running')),
    h('p', {}, h('a', { href: '#/rollouts' }, 'Rollout over time →')));
}

function countTable(id, caption, key, counts, linkOf) {
  const items = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return table({
    id, caption, columns: [key, 'Devices'], items, empty: 'No devices.',
    rowOf: ([k, n]) => h('tr', { dataset: { key: k, count: n } }, h('th', { scope: 'row' }, linkOf ? linkOf(k) : k), h('td', { class: 'num' }, fmt.int(n))),
  });
}
