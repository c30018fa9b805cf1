// Time-series plots with uPlot (embedded at build time from npm uplot@1.6.32, SHA-256 pinned; see build/console-assets.sh).
// A chart is a <div role="img"> whose aria-label states what it shows and its latest numbers, and a legend in text:
// the canvas is for the eye, the words are for everyone.
import uPlot from '../vendor/uPlot.esm.js';
import { h, fill, fmt } from './dom.js';

const charts = new WeakMap();
const observer = typeof ResizeObserver === 'function'
  ? new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = charts.get(entry.target);
      const width = Math.floor(entry.contentRect.width);
      if (chart && width > 0 && Math.abs(chart.width - width) > 4) chart.setSize({ width, height: chart.height });
    }
  })
  : null;

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

/**
 * Draws (or updates) a time chart in container.
 * series: [{ label, color }]; xs: times in ISO strings; ys: one array per series (null = gap).
 */
export function timeChart(container, { title, series, xs, ys, yLabel = 'accuracy', height = 260, describe, hours }) {
  const times = xs.map((t) => new Date(t).getTime() / 1000);
  container.setAttribute('role', 'img');
  container.setAttribute('aria-label', `${title}. ${describe ? describe() : summary(series, ys, times.length)}`);
  const existing = charts.get(container);
  if (times.length === 0) {
    if (existing) { existing.destroy(); charts.delete(container); observer?.unobserve(container); }
    fill(container, h('p', { class: 'muted empty-chart' }, 'No data in this period yet.'));
    return;
  }
  const data = [times, ...ys];
  if (existing && existing.series.length === series.length + 1) {
    existing.setData(data);
    return;
  }
  if (existing) existing.destroy();
  container.replaceChildren();
  const chart = new uPlot({
    width: Math.max(container.clientWidth || 640, 240),
    height,
    tzDate: utc,
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    scales: {
      // A fixed window when the chart covers one, else the data's own span (± a minute for a single point: uPlot
      // would stretch one point over 86,400,000 s, its single-point default for times in seconds).
      x: { time: true, range: (u, min, max) => (hours ? [Date.now() / 1000 - hours * 3600, Date.now() / 1000] : dataSpan(u, min, max)) },
      // Accuracy lives in [0, 1]: zoom to the data with a margin, never beyond the bounds.
      y: { range: (u, min, max) => [Math.max(0, (min ?? 0) - 0.05), Math.min(1, (max ?? 1) + 0.05)] },
    },
    axes: [
      { stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#9ca3af' } },
      { stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#9ca3af' }, label: yLabel, values: (u, v) => v.map((x) => x.toFixed(2)) },
    ],
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: times.length < 40 }, spanGaps: true }))],
  }, data, container);
  charts.set(container, chart);
  observer?.observe(container);
}

function dataSpan(u, min, max) {
  const xs = u.data?.[0] ?? [];
  if (xs.length === 0) return [min, max];
  const lo = xs[0];
  const hi = xs[xs.length - 1];
  return lo === hi ? [lo - 60, hi + 60] : [lo, hi];
}

/** A legend as a list: a colour swatch (CSS class) and the series name, with its latest value. */
export function legend(series, ys) {
  return h('ul', { class: 'legend' }, series.map((s, i) => {
    const last = [...(ys[i] ?? [])].reverse().find((v) => v !== null && v !== undefined);
    return h('li', {}, h('span', { class: `swatch ${s.swatch}`, 'aria-hidden': 'true' }), `${s.label}: latest ${fmt.acc(last)}`);
  }));
}

function summary(series, ys, n) {
  const parts = series.map((s, i) => {
    const last = [...(ys[i] ?? [])].reverse().find((v) => v !== null && v !== undefined);
    return `${s.label} latest ${fmt.acc(last)}`;
  });
  return `${n} points; ${parts.join('; ')}.`;
}

export const COLORS = {
  fleet: { color: '#1d4ed8', swatch: 'swatch-blue' },
  canary: { color: '#c2410c', swatch: 'swatch-orange' },
  control: { color: '#1d4ed8', swatch: 'swatch-blue' },
};
