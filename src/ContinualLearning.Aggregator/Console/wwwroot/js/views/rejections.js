// #/rejections — what the aggregator refused, by reason and by device, and the latest refusals with their detail.
import { h, fill, fmt, time, table, section } from '../dom.js';
import { api } from '../api.js';

export function mount(main) {
  const box = h('div', { id: 'rejections' });
  fill(main, h('h1', {}, 'Rejected deltas'), box);
  async function refresh() {
    const r = await api.rejections(100);
    const reasons = Object.entries(r.byReason ?? {}).sort((a, b) => b[1] - a[1]);
    fill(box,
      h('div', { class: 'grid2' },
        section('By reason', 'rejections-reason', table({
          id: 'rejections-by-reason', caption: 'Rejections by reason', columns: ['Reason', 'Deltas'], items: reasons, empty: 'Nothing rejected.',
          rowOf: ([k, n]) => h('tr', { dataset: { reason: k, count: n } }, h('th', { scope: 'row' }, k), h('td', { class: 'num' }, fmt.int(n))),
        })),
        section('By device', 'rejections-device', table({
          id: 'rejections-by-device', caption: 'Devices with the most rejections', columns: ['Device', 'Deltas'], items: r.byDevice ?? [], empty: 'Nothing rejected.',
          rowOf: (d) => h('tr', { dataset: { deviceId: d.deviceId, count: d.count } },
            h('th', { scope: 'row' }, h('a', { href: `#/devices/${encodeURIComponent(d.deviceId)}` }, d.deviceId)), h('td', { class: 'num' }, fmt.int(d.count))),
        }))),
      section('Most recent', 'rejections-recent', h('div', { class: 'table-scroll' }, table({
        id: 'rejections-recent-table', caption: 'Most recent rejections, newest first', columns: ['Time (UTC)', 'Device', 'Reason', 'Detail'], items: r.recent ?? [], empty: 'Nothing rejected.',
        rowOf: (x) => [time(x.atUtc), x.deviceId, x.reason, x.detail || '—'],
      }))));
  }
  return { refresh, events: ['rejection'], throttleMs: 2000 };
}
