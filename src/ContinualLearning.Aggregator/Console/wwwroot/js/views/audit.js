// #/audit — every operator action the console was asked for, refused ones too.
import { h, fill, time, badge, table } from '../dom.js';
import { api } from '../api.js';

export function mount(main) {
  const box = h('div', { class: 'table-scroll' });
  fill(main, h('h1', {}, 'Audit log'), box);
  async function refresh() {
    const rows = await api.audit(100);
    fill(box, table({
      id: 'audit-table', caption: 'Operator actions, newest first', columns: ['Time (UTC)', 'Operator', 'Action', 'Target', 'Outcome', 'Detail'],
      items: rows, empty: 'No operator action yet.',
      rowOf: (a) => [time(a.atUtc), a.operator || '—', a.action, a.target || '—', badge(a.outcome), a.detail || '—'],
    }));
  }
  return { refresh, events: ['audit'] };
}
