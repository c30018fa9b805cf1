// The console's shell: a hash router over the views and one EventSource on /api/v1/events. A server event names
// what changed; the view on screen re-reads what it shows (at most once per throttle period), so the page needs
// no reload and never holds state the API does not.
import { h, fill } from './dom.js';
import { api, EVENTS_URL, EVENT_KINDS } from './api.js';
import * as overview from './views/overview.js';
import * as devices from './views/devices.js';
import * as device from './views/device.js';
import * as versions from './views/versions.js';
import * as version from './views/version.js';
import * as rollouts from './views/rollouts.js';
import * as rejections from './views/rejections.js';
import * as audit from './views/audit.js';
import * as clusters from './views/clusters.js';

const ROUTES = [
  { pattern: /^\/?$/, view: overview, nav: 'overview', title: 'Overview' },
  { pattern: /^\/devices\/?$/, view: devices, nav: 'devices', title: 'Devices' },
  { pattern: /^\/devices\/(.+)$/, view: device, nav: 'devices', title: 'Device' },
  { pattern: /^\/versions\/?$/, view: versions, nav: 'versions', title: 'Versions' },
  { pattern: /^\/versions\/(.+)$/, view: version, nav: 'versions', title: 'Version' },
  { pattern: /^\/clusters\/?$/, view: clusters, nav: 'clusters', title: 'Clusters' },
  { pattern: /^\/rollouts\/?$/, view: rollouts, nav: 'rollouts', title: 'Rollouts' },
  { pattern: /^\/rejections\/?$/, view: rejections, nav: 'rejections', title: 'Rejections' },
  { pattern: /^\/audit\/?$/, view: audit, nav: 'audit', title: 'Audit' },
];
const DEFAULT_THROTTLE_MS = 700;

const main = document.getElementById('view');
const banner = document.getElementById('error-banner');
let current = null;

function showError(error) {
  if (!error) {
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  fill(banner, error.message ?? String(error));
  banner.hidden = false;
}

async function load(view) {
  try {
    await view.refresh();
    showError(null);
    main.dataset.loaded = 'true';
  } catch (e) {
    showError(e);
  }
}

function route() {
  // '#/versions/1.1.0?model=m.c1': the path picks the view, the query (URLSearchParams) is passed to it.
  const [rawPath, query = ''] = location.hash.replace(/^#/, '').split('?', 2);
  const path = decodeURIComponent(rawPath || '/');
  const params = new URLSearchParams(query);
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  current?.stop?.();
  main.dataset.loaded = 'false';
  if (!match) {
    current = null;
    fill(main, h('h1', {}, 'Not found'), h('p', {}, 'No view at ', h('code', {}, path), '. ', h('a', { href: '#/' }, 'Back to the overview')));
    return;
  }
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === match.r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${match.r.title} · Fleet console`;
  main.dataset.view = match.r.nav;
  const view = match.r.view.mount(main, match.m.slice(1), params);
  current = { ...view, route: match.r, pending: null, lastRun: 0 };
  load(view);
  // Focus moves to the new content so keyboard and screen-reader users land on it, as after a page load.
  if (document.activeElement && document.activeElement !== document.body && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

/** A server event: refresh the view on screen if it shows that kind, at most once per its throttle period. */
function onEvent(kind) {
  const view = current;
  if (!view || !(view.events ?? []).includes(kind) || view.pending) return;
  const throttle = view.throttleMs ?? DEFAULT_THROTTLE_MS;
  const wait = Math.max(0, view.lastRun + throttle - Date.now());
  view.pending = setTimeout(async () => {
    view.pending = null;
    view.lastRun = Date.now();
    if (view === current) await load(view);
  }, wait);
  view.stop = () => clearTimeout(view.pending);
}

function live() {
  const status = document.getElementById('live-status');
  const set = (state, text) => { status.dataset.state = state; status.textContent = text; };
  if (typeof EventSource !== 'function') { set('off', 'No live updates in this browser'); return; }
  const source = new EventSource(EVENTS_URL);
  source.addEventListener('open', () => {
    set('live', 'Live');
    // Whatever happened while disconnected was not announced: re-read the view once.
    if (current) onEvent((current.events ?? [])[0]);
  });
  source.addEventListener('error', () => set('reconnecting', source.readyState === EventSource.CLOSED ? 'Disconnected' : 'Reconnecting…'));
  for (const kind of EVENT_KINDS) source.addEventListener(kind, () => onEvent(kind));
  window.addEventListener('pagehide', () => source.close());
}

/** The header names the fleet and model whichever view the page was opened on. */
async function header() {
  try {
    const o = await api.overview();
    document.getElementById('fleet-name').textContent = `Fleet ${o.fleet} · model ${o.model}`;
  } catch {
    // The view's own request reports an unreachable aggregator; the header keeps its generic name.
  }
}

window.addEventListener('hashchange', route);
route();
live();
header();
