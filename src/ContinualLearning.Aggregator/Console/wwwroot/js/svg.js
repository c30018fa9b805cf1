// Drawings made by our own code: the version lineage (a tree of versions needs no layout library: depth is the
// column, a depth-first walk gives the rows) and the drift-alarm timeline.
import { s, fmt } from './dom.js';

const NODE_W = 120;
const NODE_H = 40;
const COL = 160;
const ROW = 58;
const PAD = 12;

/**
 * The lineage tree of all versions with the path root → current highlighted. versions: [{ version, parent, status }];
 * lineage: the versions on the path (root first). With many versions only the path and its direct children are drawn.
 */
export function lineageSvg(versions, current, lineage, hrefOf = (v) => `#/versions/${encodeURIComponent(v)}`) {
  const onPath = new Set(lineage.map((l) => l.version));
  let shown = versions;
  if (shown.length > 60) shown = versions.filter((v) => onPath.has(v.version) || onPath.has(v.parent));
  for (const l of lineage) if (!shown.some((v) => v.version === l.version)) shown = [...shown, l];
  const byVersion = new Map(shown.map((v) => [v.version, v]));
  const children = new Map();
  const roots = [];
  for (const v of [...shown].sort((a, b) => compareVersions(a.version, b.version))) {
    if (v.parent && byVersion.has(v.parent)) {
      if (!children.has(v.parent)) children.set(v.parent, []);
      children.get(v.parent).push(v);
    } else roots.push(v);
  }
  // Depth-first: the first child continues its parent's row, later children open new rows (a chain stays one line).
  const place = new Map();
  let nextRow = 0;
  const walk = (v, depth, row) => {
    place.set(v.version, { depth, row });
    const kids = children.get(v.version) ?? [];
    // The child on the highlighted path goes first so the path reads as one straight line.
    kids.sort((a, b) => Number(onPath.has(b.version)) - Number(onPath.has(a.version)));
    kids.forEach((k, i) => walk(k, depth + 1, i === 0 ? row : ++nextRow));
  };
  for (const r of roots) walk(r, 0, nextRow++);
  const cols = Math.max(...[...place.values()].map((p) => p.depth)) + 1;
  const rows = nextRow;
  const width = PAD * 2 + (cols - 1) * COL + NODE_W;
  const height = PAD * 2 + (rows - 1) * ROW + NODE_H;
  const label = `Lineage of ${current}: ${lineage.map((l) => `${l.version} (${l.status})`).join(' → ')}. ${shown.length} versions drawn.`;
  const svg = s('svg', { id: 'lineage', class: 'lineage', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group', 'aria-label': label });
  svg.append(s('title', {}, label));
  const pos = (v) => {
    const p = place.get(v);
    return { x: PAD + p.depth * COL, y: PAD + p.row * ROW };
  };
  for (const v of shown) {
    if (!v.parent || !place.has(v.parent)) continue;
    const a = pos(v.parent);
    const b = pos(v.version);
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    const highlighted = onPath.has(v.version) && onPath.has(v.parent);
    svg.append(s('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: highlighted ? 'edge edge-path' : 'edge', 'aria-hidden': 'true' }));
  }
  for (const v of shown) {
    const { x, y } = pos(v.version);
    const isCurrent = v.version === current;
    const link = s('a', {
      href: hrefOf(v.version),
      class: `node node-${cssWord(v.status)}${onPath.has(v.version) ? ' node-path' : ''}${isCurrent ? ' node-current' : ''}`,
      'aria-current': isCurrent ? 'page' : null,
      dataset: { version: v.version },
    });
    link.append(
      s('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
      s('text', { x: x + NODE_W / 2, y: y + 17, 'text-anchor': 'middle', class: 'node-version' }, v.version),
      s('text', { x: x + NODE_W / 2, y: y + 32, 'text-anchor': 'middle', class: 'node-status' }, v.status ?? ''));
    svg.append(link);
  }
  return svg;
}

/** Orders 1.10.0 after 1.9.0 (numeric parts compared as numbers). */
export function compareVersions(a, b) {
  const pa = String(a).split(/[.-]/);
  const pb = String(b).split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

const cssWord = (w) => String(w ?? '').replace(/[^a-z-]/gi, '');

const LANES = 10;
const LANE_H = 22;
const LEFT = 110;
const AXIS_H = 26;

/** Drift alarms [{ t, deviceId, detector }] over the last `hours`, one lane per device (the most alarmed first). */
export function driftTimeline(alarms, hours, now = Date.now()) {
  const from = now - hours * 3600e3;
  const counts = new Map();
  for (const a of alarms) counts.set(a.deviceId, (counts.get(a.deviceId) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const lanes = ranked.slice(0, LANES).map(([d]) => d);
  const others = ranked.length > LANES;
  const laneCount = Math.max(lanes.length + (others ? 1 : 0), 1);
  const width = 760;
  const height = AXIS_H + laneCount * LANE_H + 8;
  const x = (t) => LEFT + ((t - from) / (now - from)) * (width - LEFT - 10);
  const top = ranked.slice(0, 3).map(([d, n]) => `${d} (${n})`).join(', ');
  const label = alarms.length === 0
    ? `No drift alarms in the last ${hours} h.`
    : `${alarms.length} drift alarms from ${counts.size} devices in the last ${hours} h; most: ${top}.`;
  const svg = s('svg', { id: 'drift-timeline', class: 'timeline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMinYMin meet' });
  svg.append(s('title', {}, label));
  const axisY = height - AXIS_H + 4;
  svg.append(s('line', { x1: LEFT, x2: width - 10, y1: axisY, y2: axisY, class: 'axis' }));
  const step = hours <= 6 ? 1 : hours <= 24 ? 4 : 24;
  for (let hBack = 0; hBack <= hours; hBack += step) {
    const t = now - hBack * 3600e3;
    const tx = x(t);
    svg.append(s('line', { x1: tx, x2: tx, y1: 4, y2: axisY, class: 'grid' }));
    svg.append(s('text', { x: tx, y: axisY + 16, 'text-anchor': 'middle', class: 'tick' }, hBack === 0 ? 'now' : `−${hBack} h`));
  }
  const laneOf = (d) => {
    const i = lanes.indexOf(d);
    return i >= 0 ? i : lanes.length;
  };
  lanes.forEach((d, i) => svg.append(s('text', { x: LEFT - 8, y: 4 + i * LANE_H + 15, 'text-anchor': 'end', class: 'lane' }, truncate(d, 14))));
  if (others) svg.append(s('text', { x: LEFT - 8, y: 4 + lanes.length * LANE_H + 15, 'text-anchor': 'end', class: 'lane' }, 'others'));
  for (const a of alarms) {
    const t = new Date(a.t).getTime();
    if (!(t >= from)) continue;
    const dot = s('circle', { cx: x(Math.min(t, now)), cy: 4 + laneOf(a.deviceId) * LANE_H + 11, r: 5, class: 'alarm' });
    dot.append(s('title', {}, `${a.deviceId}: ${a.detector ?? 'drift'} at ${fmt.time(a.t)}`));
    svg.append(dot);
  }
  return svg;
}

const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
