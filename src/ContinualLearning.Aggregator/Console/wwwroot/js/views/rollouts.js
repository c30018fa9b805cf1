// #/rollouts — canary against control over time for each rollout, and the decision with its numbers.
import { h, fill, fmt, time, badge, table, section } from '../dom.js';
import { api } from '../api.js';
import { timeChart, legend, COLORS } from '../charts.js';

let selected = null;

export function mount(main) {
  const list = h('div', { class: 'table-scroll' });
  const title = h('h2', { id: 'rollout-chart-heading' }, 'Rollout');
  const chart = h('div', { id: 'rollout-chart', class: 'chart' });
  const chartLegend = h('div');
  const decision = h('div', { id: 'rollout-decision', 'aria-live': 'polite' });
  fill(main,
    h('h1', {}, 'Rollouts'),
    h('section', { class: 'panel', 'aria-labelledby': 'rollout-chart-heading' }, title, chart, chartLegend, decision),
    section('All rollouts, newest first', 'rollout-list', list));

  let rollouts = [];
  function show(r) {
    selected = r?.version ?? null;
    if (!r) {
      fill(title, 'No rollout yet');
      fill(chart, h('p', { class: 'muted' }, 'A canary rollout starts when the aggregator publishes a candidate to the canary cohort.'));
      fill(decision);
      return;
    }
    fill(title, `Rollout of ${r.version}`, r.controlVersion ? ` against ${r.controlVersion}` : '');
    const pts = r.points ?? [];
    const series = [{ label: `Canary (${r.version})`, ...COLORS.canary }, { label: `Control (${r.controlVersion ?? 'released'})`, ...COLORS.control }];
    const ys = [pts.map((p) => p.canaryAccuracy), pts.map((p) => p.controlAccuracy)];
    timeChart(chart, { title: `Canary and control accuracy of rollout ${r.version}`, series, xs: pts.map((p) => p.t), ys });
    const last = pts.at(-1);
    fill(chartLegend, legend(series, ys),
      last ? h('p', { class: 'help' }, `Last sample: ${fmt.int(last.canaryReports)} canary and ${fmt.int(last.controlReports)} control reports at ${fmt.time(last.t)}.`) : null);
    decision.dataset.state = r.state;
    fill(decision, h('p', {},
      h('strong', {}, `Decision on ${r.version}: `), badge(r.verdict ?? r.state),
      r.reason ? ` — ${r.reason}` : '',
      r.decidedUtc ? [' (', time(r.decidedUtc), ')'] : ' (still running)'));
    for (const b of list.querySelectorAll('button[data-version]')) b.setAttribute('aria-pressed', String(b.dataset.version === selected));
  }

  async function refresh() {
    rollouts = await api.rollouts();
    fill(list, table({
      id: 'rollouts-table', caption: 'Rollouts', items: rollouts, empty: 'No rollout yet.',
      columns: ['Version', 'Control', 'State', 'Started (UTC)', 'Decided (UTC)', 'Verdict'],
      rowOf: (r) => h('tr', { dataset: { version: r.version, state: r.state } },
        h('th', { scope: 'row' }, h('button', { type: 'button', class: 'link', dataset: { version: r.version }, 'aria-pressed': 'false', onclick: () => show(r) }, r.version)),
        h('td', {}, r.controlVersion ?? '—'),
        h('td', {}, badge(r.state)),
        h('td', {}, time(r.startedUtc)),
        h('td', {}, r.decidedUtc ? time(r.decidedUtc) : '—'),
        h('td', {}, r.verdict ?? '—')),
    }));
    show(rollouts.find((r) => r.version === selected) ?? rollouts[0]);
  }
  return { refresh, events: ['rollout', 'decision', 'version'] };
}
