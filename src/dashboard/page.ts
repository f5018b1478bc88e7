// The dashboard page: one HTML document with its style and script inline (no build step, nothing
// fetched from elsewhere). It polls `state` (relative to the page) once a second and redraws with
// plain DOM; text always goes through textContent, never innerHTML.

const STYLE = `
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e2e5eb; --up:#1f9d55; --lag:#d98a00; --down:#d64545; --primary:#3558d4; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:baseline; gap:16px; padding:14px 24px; background:#1d2330; color:#fff; }
header h1 { font-size:18px; margin:0; font-weight:600; }
header .meta { color:#b9c0d0; font-size:13px; }
header .meta b { color:#fff; }
#conn { margin-left:auto; font-size:12px; color:#b9c0d0; }
main { display:grid; grid-template-columns: minmax(0,1.15fr) minmax(0,1fr); gap:16px; padding:16px 24px 24px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; min-width:0; }
section h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:0 0 10px; font-weight:600; }
.wide { grid-column: 1 / -1; }
#nodes { display:grid; grid-template-columns: repeat(auto-fill, minmax(210px,1fr)); gap:10px; }
.node { border:1px solid var(--line); border-left:5px solid var(--up); border-radius:6px; padding:10px 12px; }
.node[data-state="lagging"] { border-left-color:var(--lag); }
.node[data-state="down"] { border-left-color:var(--down); opacity:.85; }
.node .top { display:flex; align-items:center; gap:8px; }
.node .alias { font-weight:600; font-size:15px; }
.badge { font-size:11px; padding:1px 7px; border-radius:10px; background:#eef0f4; color:var(--muted); }
.badge.primary { background:var(--primary); color:#fff; }
.state { margin-left:auto; font-size:12px; font-weight:600; }
.state.up { color:var(--up); } .state.lagging { color:var(--lag); } .state.down { color:var(--down); }
.node .facts { color:var(--muted); font-size:12px; margin:6px 0; min-height:2.6em; }
.node .url { font-family:ui-monospace, monospace; font-size:11px; color:var(--muted); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.node .ctl { display:flex; flex-wrap:wrap; gap:4px; margin-top:8px; }
button { font:inherit; font-size:12px; padding:3px 9px; border:1px solid var(--line); background:#fff; border-radius:4px; cursor:pointer; }
button:hover { background:#eef0f4; } button:disabled { opacity:.5; cursor:default; }
button.danger { color:var(--down); } button.go { color:var(--primary); }
#chart { width:100%; height:190px; display:block; }
#legend { display:flex; gap:14px; font-size:12px; color:var(--muted); margin-top:4px; }
#legend i { display:inline-block; width:12px; height:3px; vertical-align:middle; margin-right:4px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.bar { height:8px; background:var(--primary); border-radius:4px; opacity:.75; }
.reasons span { display:inline-block; font-size:11px; background:#eef0f4; border-radius:3px; padding:0 5px; margin:1px 2px 1px 0; }
#recent td.sql { font-family:ui-monospace, monospace; font-size:12px; word-break:break-all; }
#recent tr.failed td { color:var(--down); }
#events { list-style:none; padding:0; margin:0; font-size:13px; max-height:190px; overflow:auto; }
#events li { padding:3px 0; border-bottom:1px solid var(--line); }
#events time, #recent time { color:var(--muted); font-variant-numeric:tabular-nums; margin-right:6px; font-size:12px; }
#toast { position:fixed; bottom:16px; right:16px; background:#1d2330; color:#fff; padding:8px 12px; border-radius:6px; font-size:13px; display:none; max-width:420px; }
`;

const SCRIPT = `
const COLORS = ['#3558d4', '#d98a00', '#1f9d55', '#9b3fd4', '#d64545', '#0f8ea0'];
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k.startsWith('data-')) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};
const ms = (v) => v == null ? '?' : v < 1000 ? Math.round(v) + ' ms' : (v / 1000).toFixed(1) + ' s';
const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false });
let busy = false;
let last = null;

async function control(action, alias) {
  if (busy) return;
  busy = true;
  document.body.dataset.busy = '1';
  for (const b of document.querySelectorAll('.ctl button')) b.disabled = true;
  toast(action + ' ' + alias + '…');
  try {
    const r = await fetch('control', { method: 'POST', headers: { 'content-type': 'application/json', 'x-dbrouter-dashboard': '1' }, body: JSON.stringify({ action, alias }) });
    const body = await r.json();
    toast(r.ok ? body.text : 'failed: ' + body.error);
  } catch (e) { toast('failed: ' + e.message); }
  busy = false;
  delete document.body.dataset.busy;
  refresh();
}

let toastTimer;
function toast(text) {
  const t = $('toast');
  t.textContent = text; t.style.display = 'block';
  clearTimeout(toastTimer); toastTimer = setTimeout(() => { t.style.display = 'none'; }, 4000);
}

// Cards are kept and updated in place (buttons are rebuilt only when the set of controls changes),
// so a button under the pointer is never replaced between a press and its click.
const cards = new Map();
function drawNodes(s) {
  const box = $('nodes');
  for (const alias of cards.keys()) if (!s.nodes.some((n) => n.alias === alias)) { cards.get(alias).card.remove(); cards.delete(alias); }
  for (const n of s.nodes) {
    let c = cards.get(n.alias);
    if (!c) {
      const alias = el('span', { class: 'alias' }, n.alias);
      const badge = el('span', { class: 'badge' });
      const state = el('span', { class: 'state' });
      const facts = el('div', { class: 'facts' });
      const url = el('div', { class: 'url' });
      const ctl = el('div', { class: 'ctl' });
      const card = el('div', { class: 'node', 'data-alias': n.alias }, el('div', { class: 'top' }, alias, badge, state), facts, url, ctl);
      c = { card, badge, state, facts, url, ctl, key: '' };
      cards.set(n.alias, c);
      box.append(card);
    }
    const facts = [];
    if (n.role === 'replica') {
      facts.push(n.state === 'down' ? 'no lag reading' : 'lag ' + ms(n.lagMillis) + (n.paused ? ' · replay paused' : ''));
      facts.push(n.inRotation ? 'serves reads' : 'out of reads');
    } else if (n.role === 'primary') {
      facts.push(n.inRotation ? 'takes writes' : 'not taking writes');
    }
    if (n.rttMillis != null && n.state !== 'down') facts.push('rtt ' + n.rttMillis + ' ms');
    c.card.setAttribute('data-role', n.role || 'unknown');
    c.card.setAttribute('data-state', n.state);
    c.badge.className = 'badge ' + (n.role || '');
    c.badge.textContent = n.role || 'role?';
    c.state.className = 'state ' + n.state;
    c.state.textContent = n.state;
    c.facts.textContent = facts.join(' · ');
    c.url.textContent = n.url; c.url.title = n.url;
    const buttons = [];
    if (s.controls) {
      if (n.state === 'down') buttons.push(['start', 'start', 'go']);
      else {
        if (n.role === 'replica') {
          buttons.push(n.paused ? ['resume replay', 'resume', ''] : ['pause replay', 'pause', '']);
          buttons.push(['promote', 'promote', 'go']);
        }
        buttons.push(['kill', 'kill', 'danger']);
      }
    }
    const key = JSON.stringify(buttons);
    if (key !== c.key) {
      c.key = key;
      c.ctl.replaceChildren(...buttons.map(([label, action, cls]) => {
        const b = el('button', { class: cls, 'data-action': action, 'data-alias': n.alias }, label);
        b.addEventListener('click', () => control(action, n.alias));
        return b;
      }));
    }
    for (const b of c.ctl.children) b.disabled = busy;
  }
}

function drawChart(s) {
  const svg = $('chart');
  const W = svg.clientWidth || 600, H = 190, L = 46, R = 8, T = 10, B = 22;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  const replicas = s.nodes.filter((n) => n.role === 'replica').map((n) => n.alias);
  const seen = new Set(replicas);
  for (const p of s.lag) for (const a of Object.keys(p.millis)) seen.add(a);
  const aliases = [...seen].sort();
  // A colour per node, not per position among replicas: a promotion must not repaint the lines.
  const order = s.nodes.map((n) => n.alias);
  const colorOf = (alias) => COLORS[(order.indexOf(alias) + COLORS.length) % COLORS.length];
  const now = s.now, span = 120000, from = now - span;
  const pts = s.lag.filter((p) => p.at >= from);
  let max = 1000;
  for (const p of pts) for (const v of Object.values(p.millis)) if (v != null && v > max) max = v;
  const step = max <= 2000 ? 500 : max <= 10000 ? 2000 : max <= 30000 ? 5000 : 15000;
  max = Math.ceil(max / step) * step;
  const x = (t) => L + ((t - from) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const NS = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs, text) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text != null) e.textContent = text; return e; };
  svg.replaceChildren();
  for (let v = 0; v <= max; v += step) {
    svg.append(mk('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e2e5eb' }));
    svg.append(mk('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#6b7385' }, ms(v)));
  }
  for (let t = 0; t <= span; t += 30000) {
    svg.append(mk('text', { x: x(from + t), y: H - 6, 'text-anchor': t === span ? 'end' : t === 0 ? 'start' : 'middle', 'font-size': 11, fill: '#6b7385' }, t === span ? 'now' : '-' + (span - t) / 1000 + 's'));
  }
  const legend = $('legend');
  legend.replaceChildren();
  aliases.forEach((alias) => {
    const color = colorOf(alias);
    let d = '', pen = false, count = 0, lastV = null;
    for (const p of pts) {
      const v = p.millis[alias];
      if (v == null) { pen = false; continue; }
      d += (pen ? 'L' : 'M') + x(p.at).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
      pen = true; count++; lastV = v;
    }
    if (count === 0) return; // a node that was no replica in this window (the primary) has no line
    svg.append(mk('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'data-alias': alias, 'data-points': count, 'data-last': lastV == null ? '' : Math.round(lastV) }));
    const node = s.nodes.find((n) => n.alias === alias);
    const label = !node ? '' : node.state === 'down' ? 'down' : node.role === 'primary' ? 'now primary' : ms(node.lagMillis);
    legend.append(el('span', { 'data-alias': alias }, el('i', { style: 'background:' + color }), alias + ' ' + label));
  });
  svg.dataset.max = String(max);
}

function drawRouted(s) {
  const body = $('routed');
  body.replaceChildren();
  const rows = Object.entries(s.routed);
  const top = Math.max(1, ...rows.map(([, r]) => r.statements));
  const role = Object.fromEntries(s.nodes.map((n) => [n.alias, n.role]));
  for (const [alias, r] of rows) {
    const reasons = el('div', { class: 'reasons' });
    for (const [reason, count] of Object.entries(r.byReason).sort((a, b) => b[1] - a[1])) reasons.append(el('span', {}, reason + ' ' + count));
    const bar = el('div', { class: 'bar' }); bar.style.width = Math.max(2, (100 * r.statements) / top) + '%';
    body.append(el('tr', { 'data-alias': alias },
      el('td', {}, alias + (role[alias] === 'primary' ? ' (primary)' : '')),
      el('td', { class: 'num' }, r.statements), el('td', { class: 'num' }, r.writes),
      el('td', { style: 'width:30%' }, bar), el('td', {}, reasons)));
  }
}

function drawRecent(s) {
  const body = $('recent');
  body.replaceChildren();
  for (const q of s.recent.slice(0, 14)) {
    body.append(el('tr', { class: q.failed ? 'failed' : '' },
      el('td', {}, el('time', {}, clock(q.at))),
      el('td', {}, q.alias), el('td', {}, q.reason + (q.misroute ? ' (misroute)' : '')),
      el('td', { class: 'num' }, q.durationMillis + ' ms'), el('td', { class: 'sql' }, q.sql)));
  }
}

function drawEvents(s) {
  const list = $('events');
  list.replaceChildren();
  if (s.events.length === 0) list.append(el('li', {}, 'no health events yet'));
  for (const e of s.events) list.append(el('li', {}, el('time', {}, clock(e.at)), e.text));
}

function draw(s) {
  last = s;
  $('engine').textContent = s.engine;
  $('primary').textContent = s.primary || 'none';
  document.body.dataset.primary = s.primary || '';
  const total = Object.values(s.routed).reduce((a, r) => a + r.statements, 0);
  $('total').textContent = String(total);
  drawNodes(s); drawChart(s); drawRouted(s); drawRecent(s); drawEvents(s);
}

async function refresh() {
  try {
    const r = await fetch('state', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    draw(await r.json());
    $('conn').textContent = 'live · ' + clock(Date.now());
  } catch (e) {
    $('conn').textContent = 'disconnected (' + e.message + ')';
  }
}
addEventListener('resize', () => { if (last) drawChart(last); });
refresh();
setInterval(refresh, 1000);
`;

/** The whole page, served as is. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dbrouter dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>dbrouter</h1>
  <span class="meta">engine <b id="engine">…</b></span>
  <span class="meta">primary <b id="primary">…</b></span>
  <span class="meta">statements routed <b id="total">0</b></span>
  <span id="conn">connecting…</span>
</header>
<main>
  <section class="wide"><h2>Topology</h2><div id="nodes"></div></section>
  <section><h2>Replication lag (last 2 minutes)</h2><svg id="chart" role="img" aria-label="replication lag per replica over time"></svg><div id="legend"></div></section>
  <section><h2>Health events</h2><ul id="events"></ul></section>
  <section class="wide"><h2>Statements routed per node and reason</h2>
    <table><thead><tr><th>node</th><th class="num">statements</th><th class="num">writes</th><th></th><th>by reason</th></tr></thead><tbody id="routed"></tbody></table>
  </section>
  <section class="wide"><h2>Most recent statements (text only, never parameters)</h2>
    <table><thead><tr><th>time</th><th>node</th><th>reason</th><th class="num">took</th><th>statement</th></tr></thead><tbody id="recent"></tbody></table>
  </section>
</main>
<div id="toast"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;
