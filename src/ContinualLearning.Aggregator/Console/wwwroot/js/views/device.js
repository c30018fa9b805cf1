// #/devices/{id} — one device: what it runs, how it learns, its recent accuracy and drift; pause/resume/report.
import { h, fill, fmt, time, badge, table, section } from '../dom.js';
import { api } from '../api.js';
import { timeChart, legend, COLORS } from '../charts.js';
import { tokenField, resultLine, actions } from '../operator.js';

export function mount(main, [id]) {
  const facts = h('dl', { class: 'facts' });
  const chart = h('div', { id: 'device-accuracy-chart', class: 'chart' });
  const chartLegend = h('div');
  const drift = h('div');
  const commands = ['pause', 'resume', 'report'].map((kind) =>
    h('button', { type: 'button', id: `command-${kind}`, onclick: () => actions.command(id, kind) }, kind[0].toUpperCase() + kind.slice(1)));
  fill(main,
    h('p', {}, h('a', { href: '#/devices' }, '← All devices')),
    h('h1', {}, 'Device ', h('span', { class: 'mono' }, id)),
    section('State', 'device-state', facts),
    section('Recent accuracy', 'device-accuracy', chart, chartLegend),
    section('Recent drift alarms', 'device-drift', drift),
    section('Operator commands', 'device-commands',
      h('p', { class: 'help' }, 'Signed by the aggregator with its command key and sent to this device.'),
      tokenField(), h('div', { class: 'actions' }, commands), resultLine()));

  async function refresh() {
    const answer = await api.device(id);
    // The device's row and its recent history: flat, or the row under "device".
    const d = { ...(answer.device ?? answer), recentAccuracy: answer.recentAccuracy, recentDrift: answer.recentDrift };
    // A device served by a cluster model (concept-aware aggregation) runs that model's versions: link them there.
    const served = d.servedCluster ?? d.cluster;
    const model = served ? (await api.clusters()).clusters.find((k) => k.cluster === served)?.model : undefined;
    const versionHref = (v) => `#/versions/${encodeURIComponent(v)}${model ? `?model=${encodeURIComponent(model)}` : ''}`;
    fill(facts,
      fact('State', badge(d.state), d.paused ? ' (learning paused)' : ''),
      fact('Model version', d.modelVersion ? h('a', { href: versionHref(d.modelVersion) }, d.modelVersion) : '—', model ? ` of ${model}` : ''),
      fact('Base release', d.baseVersion ?? '—'),
      fact('Cohort', d.cohort ?? '—'),
      d.cluster === null || d.cluster === undefined ? null
        : fact('Cluster', h('span', { id: 'device-cluster', dataset: { cluster: d.cluster } }, String(d.cluster)),
          d.servedCluster !== null && d.servedCluster !== undefined && d.servedCluster !== d.cluster ? ` (still serving cluster ${d.servedCluster})` : ''),
      fact('Last seen', time(d.lastSeenUtc), ` (${fmt.ago(d.lastSeenUtc)})`),
      fact('Accuracy', `${fmt.acc(d.accuracy)}${d.accuracyWindow ? ` over the last ${fmt.int(d.accuracyWindow)} labels` : ''}`),
      fact('Drift', d.drift && d.drift !== 'stable' ? `${d.drift} (${d.driftDetector ?? 'detector'})` : (d.drift ?? '—')),
      fact('Engine', d.engine ?? '—'),
      fact('Deltas sent', fmt.int(d.deltasSent)));
    const points = d.recentAccuracy ?? [];
    const series = [{ label: 'Device accuracy', ...COLORS.fleet }];
    const ys = [points.map((p) => p.accuracy)];
    timeChart(chart, { title: `Recent accuracy of ${id}`, series, xs: points.map((p) => p.t), ys });
    fill(chartLegend, legend(series, ys));
    const alarms = d.recentDrift ?? [];
    fill(drift, table({
      id: 'device-drift-table', caption: 'Drift alarms', columns: ['Time (UTC)', 'Detector'], items: alarms, empty: 'No recent drift alarms.',
      rowOf: (a) => [time(a.t), a.detector ?? '—'],
    }));
  }
  return { refresh, events: ['device'], throttleMs: 2000 };
}

const fact = (term, ...value) => [h('dt', {}, term), h('dd', {}, ...value)];
