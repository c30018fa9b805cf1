// The console's one way to talk to the aggregator: /api/v1 (relative, so the page also works behind a path prefix).
// Errors come back as RFC 7807 problem+json; an ApiError carries its status, title and detail for the page to show.

const BASE = 'api/v1/';
const TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

async function request(path, { method = 'GET', token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'The aggregator did not answer', e?.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : String(e?.message ?? e));
  }
  const type = response.headers.get('Content-Type') ?? '';
  const json = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    throw new ApiError(response.status, json?.title ?? `${response.status} ${response.statusText}`, json?.detail ?? '');
  }
  return json;
}

const q = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const text = p.toString();
  return text ? `?${text}` : '';
};

const enc = encodeURIComponent;

export const api = {
  overview: () => request('overview'),
  devices: (params) => request(`devices${q(params)}`),
  device: (id) => request(`devices/${enc(id)}`),
  versions: (model) => request(`versions${q({ model })}`),
  version: (v, model) => request(`versions/${enc(v)}${q({ model })}`),
  clusters: () => request('clusters'),
  rollouts: () => request('rollouts'),
  accuracy: (hours = 24) => request(`accuracy${q({ hours })}`),
  drift: (hours = 24) => request(`drift${q({ hours })}`),
  rejections: (limit = 100) => request(`rejections${q({ limit })}`),
  audit: (limit = 100) => request(`audit${q({ limit })}`),
  rollback: (v, token, model) => request(`versions/${enc(v)}/rollback${q({ model })}`, { method: 'POST', token }),
  publish: (v, token, model) => request(`versions/${enc(v)}/publish${q({ model })}`, { method: 'POST', token }),
  command: (id, kind, token) => request(`devices/${enc(id)}/commands`, { method: 'POST', token, body: { kind } }),
};

export const EVENTS_URL = `${BASE}events`;
export const EVENT_KINDS = ['device', 'version', 'rollout', 'decision', 'rejection', 'audit', 'overview'];
