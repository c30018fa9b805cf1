// The operator's credential and actions. The token lives in this module's memory only (never in storage, never in
// the URL): a reload forgets it, and the page holds no token it was not given.
import { h, fill } from './dom.js';
import { api, ApiError } from './api.js';

let token = '';

/** The token field; its value is remembered while the page is open so each view need not ask again. */
export function tokenField() {
  const input = h('input', {
    id: 'operator-token', type: 'password', autocomplete: 'off', spellcheck: false, value: token,
    'aria-describedby': 'operator-token-help',
    oninput: (e) => { token = e.target.value.trim(); },
  });
  // In a form (never submitted: actions are buttons) so browsers treat the password field as one.
  return h('form', { class: 'field', onsubmit: (e) => e.preventDefault() },
    h('label', { for: 'operator-token' }, 'Operator token'),
    input,
    h('p', { id: 'operator-token-help', class: 'help' }, 'Sent as a bearer credential with actions only; kept in this tab\'s memory, never stored.'));
}

/** The result line every action writes to (role=status: screen readers hear the outcome). */
export function resultLine() {
  return h('p', { id: 'action-result', class: 'result', role: 'status', 'aria-live': 'polite' });
}

/** Runs an operator action and reports its outcome in #action-result; returns the answer or null. */
export async function act(label, call) {
  const out = document.getElementById('action-result');
  const write = (state, ...text) => { if (out) { out.dataset.state = state; fill(out, ...text); } };
  write('pending', `${label}…`);
  try {
    const answer = await call(token);
    write('ok', `${label}: done.`, answer ? ` ${describe(answer)}` : '');
    return answer;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      write('refused', `${label}: refused (${e.status}). ${e.detail || e.title}`, token ? '' : ' Enter an operator token first.');
    } else {
      write('error', `${label}: failed. ${e.message}`);
    }
    return null;
  }
}

function describe(answer) {
  if (Array.isArray(answer.rolledBack)) return answer.rolledBack.length ? `Rolled back: ${answer.rolledBack.join(', ')}.` : 'Nothing was rolled back.';
  if (answer.commandId) return `Command ${answer.commandId} sent.`;
  if (answer.version) return `Version ${answer.version}.`;
  return '';
}

export const actions = {
  // model: a cluster model (concept-aware aggregation); undefined acts on the configured model.
  rollback: (version, model) => act(`Roll back ${model ? `${model} ` : ''}to ${version}`, (t) => api.rollback(version, t, model)),
  publish: (version, model) => act(`Publish ${model ? `${model} ` : ''}${version}`, (t) => api.publish(version, t, model)),
  command: (deviceId, kind) => act(`${kind} ${deviceId}`, (t) => api.command(deviceId, kind, t)),
};
