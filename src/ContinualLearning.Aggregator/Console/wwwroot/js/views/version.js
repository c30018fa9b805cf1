// #/versions/{v} — one version: status, lineage graph, metrics, the decisions taken on it with their numbers, the
// devices and deltas it was built from, and the operator's rollback to it / publish of it.
import { h, fill, fmt, time, badge, table, section } from '../dom.js';
import { api } from '../api.js';
import { lineageSvg } from '../svg.js';
import { tokenField, resultLine, actions } from '../operator.js';

const SHOWN_DELTAS = 50;

export function mount(main, [version], params) {
  // A cluster model (#/versions/1.0.0?model=m.c1); undefined is the configured model.
  const model = params?.get('model') || undefined;
  const suffix = model ? `?model=${encodeURIComponent(model)}` : '';
  const link = (v) => `#/versions/${encodeURIComponent(v)}${suffix}`;
  const whose = model ? `the devices of ${model}` : 'the fleet';
  const facts = h('dl', { class: 'facts' });
  const graph = h('div', { class: 'lineage-box' });
  const lineageText = h('p', { class: 'help' });
  const metrics = h('div');
  const decisions = h('div');
  const sources = h('div');
  const rollback = h('button', { id: 'rollback-button', type: 'button', class: 'danger', onclick: async () => { await actions.rollback(version, model); refreshSoon(); } }, `Roll back ${model ? model : 'the fleet'} to ${version}`);
  const publish = h('button', { id: 'publish-button', type: 'button', onclick: async () => { await actions.publish(version, model); refreshSoon(); } }, `Publish ${model ? `${model} ` : ''}${version}`);
  fill(main,
    h('p', {}, h('a', { href: `#/versions${suffix}` }, model ? `← All versions of ${model}` : '← All versions')),
    h('h1', {}, 'Version ', h('span', { class: 'mono', id: 'version-name' }, version), model ? [' of ', h('span', { class: 'mono', id: 'version-model' }, model)] : null),
    section('Summary', 'version-summary', facts),
    section('Lineage', 'version-lineage', graph, lineageText),
    section('Metrics', 'version-metrics', metrics),
    section('Decisions', 'version-decisions', decisions),
    section('Built from', 'version-sources', sources),
    section('Operator actions', 'version-actions',
      h('p', { class: 'help' }, `Roll back makes ${version} the release of ${whose} again (as cl model rollback${model ? ` --model ${model}` : ''}): every newer released or canary version is marked rolled back and ${version} is re-published to all of them. Publish releases a newer version to ${whose} (as cl model publish). Both need an operator token and are recorded in the audit log.`),
      tokenField(),
      h('div', { class: 'actions' }, rollback, publish),
      resultLine()));

  let refreshSoon = () => {};
  async function refresh() {
    const [v, all] = await Promise.all([api.version(version, model), api.versions(model)]);
    fill(facts,
      h('dt', {}, 'Status'), h('dd', { id: 'version-status', dataset: { status: v.status } }, badge(v.status)),
      h('dt', {}, 'Parent'), h('dd', {}, v.parent ? h('a', { href: link(v.parent) }, v.parent) : 'none (a root)'),
      h('dt', {}, 'Created'), h('dd', {}, time(v.createdUtc)));
    const lineage = v.lineage?.length ? v.lineage : [{ version: v.version, parent: v.parent, status: v.status }];
    fill(graph, lineageSvg(all.map((x) => ({ version: x.version, parent: x.parent, status: x.status })), v.version, lineage, link));
    fill(lineageText, 'Path from the root: ', lineage.map((l, i) => [i ? ' → ' : '', h('a', { href: link(l.version) }, l.version), ` (${l.status})`]));
    const m = Object.entries(v.metrics ?? {});
    fill(metrics, table({
      id: 'version-metrics-table', caption: 'Metrics recorded with the version', columns: ['Metric', 'Value'], items: m, empty: 'No metrics recorded.',
      rowOf: ([k, val]) => [k, typeof val === 'number' ? (Number.isInteger(val) ? fmt.int(val) : fmt.acc(val)) : typeof val === 'string' ? val : JSON.stringify(val)],
    }));
    fill(decisions, table({
      id: 'version-decisions-table', caption: 'Gate and rollout decisions, oldest first', columns: ['Decision', 'Reason', 'Numbers', 'Time (UTC)'],
      items: v.decisions ?? [], empty: 'No decision yet.',
      rowOf: (d) => [badge(d.kind), d.reason || '—', numbers(d.details ?? d.detailsJson), time(d.atUtc)],
    }));
    const deltas = v.deltas ?? [];
    const devices = v.devices ?? [];
    fill(sources,
      h('p', {}, `${fmt.int(deltas.length)} deltas from ${fmt.int(devices.length)} devices.`),
      devices.length ? h('ul', { class: 'chips', 'aria-label': 'Contributing devices' }, devices.map((id) => h('li', {}, h('a', { href: `#/devices/${encodeURIComponent(id)}` }, id)))) : null,
      deltas.length ? table({
        id: 'version-deltas-table', caption: deltas.length > SHOWN_DELTAS ? `First ${SHOWN_DELTAS} deltas` : 'Deltas', columns: ['Delta', 'Device'],
        items: deltas.slice(0, SHOWN_DELTAS), rowOf: (d) => [h('span', { class: 'mono' }, d.deltaId), d.deviceId],
      }) : null);
    // Only a version that was released can be rolled back to; only one that is not released can be published.
    rollback.disabled = !(v.status === 'released' || v.status === 'rolled-back');
    publish.disabled = v.status === 'released' || v.status === 'rejected';
  }
  refreshSoon = () => refresh().catch(() => {});
  return { refresh, events: ['version', 'decision', 'rollout'] };
}

/** Decision numbers (an object or its JSON text) as "canaryAccuracy 0.912 · controlAccuracy 0.897". */
function numbers(details) {
  let obj = details;
  if (typeof details === 'string') {
    try { obj = JSON.parse(details); } catch { return details; }
  }
  if (!obj || typeof obj !== 'object') return '—';
  const parts = Object.entries(obj).map(([k, v]) => `${k} ${typeof v === 'number' && !Number.isInteger(v) ? fmt.acc(v) : v ?? '—'}`);
  return parts.length ? parts.join(' · ') : '—';
}
