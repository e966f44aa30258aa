// The live topology page (GET /): the seed's two status tables and the recent events,
// updated from server-sent events (GET /events, a status every 500 ms), with each peer's
// disk and network heartbeat age. One static HTML
// document with its script inline: no front-end build chain, readable on a phone.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ycs</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; padding: 12px; background: #f6f7f9; color: #1d232b; }
  h1 { font-size: 18px; margin: 0 0 8px; }
  #conn { font-size: 13px; color: #666; margin-bottom: 10px; }
  #conn.down { color: #b00020; font-weight: 600; }
  table { border-collapse: collapse; width: 100%; max-width: 720px; margin-bottom: 14px; background: #fff; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
  th { font-size: 12px; text-transform: uppercase; color: #5b6470; }
  .online, .primary { color: #11752f; font-weight: 600; }
  .offline, .failed { color: #b00020; font-weight: 600; }
  .standby { color: #1c5fb8; }
  .master-row { background: #eaf6ee; }
  #events { list-style: none; padding: 0; margin: 0; max-width: 720px; font-size: 13px; }
  #events li { padding: 4px 8px; border-bottom: 1px solid #e3e6ea; background: #fff; }
  #events time { color: #5b6470; margin-right: 8px; font-variant-numeric: tabular-nums; }
  .scroll { overflow-x: auto; }
</style>
</head>
<body>
<h1>ycs cluster <span id="cluster"></span></h1>
<div id="conn">connecting...</div>
<div class="scroll"><table id="summary"></table></div>
<div class="scroll"><table id="hosts"></table></div>
<h1>Recent events</h1>
<ul id="events"></ul>
<script>
const el = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const row = (cells, tag = 'td', cls = '') => '<tr class="' + cls + '">' + cells.map((c) => '<' + tag + ' class="' + esc(c.cls || '') + '">' + esc(c.text ?? c) + '</' + tag + '>').join('') + '</tr>';
const shown = (state) => (state === 'primary' || state === 'standby' ? 'online' : state);
const age = (ms) => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(1) + ' s');
const ages = (h) => (h.heartbeatAgeMs === undefined ? 'self' : 'disk ' + age(h.heartbeatAgeMs.disk) + ', net ' + age(h.heartbeatAgeMs.net));
function render(d) {
  const s = d.status;
  el('cluster').textContent = s.cluster ? "'" + s.cluster + "' (" + s.arbitration + ')' : '';
  const active = s.hosts.filter((h) => h.state === 'online').length;
  el('summary').innerHTML = row(['Self Host ID', 'Cluster Master ID', ...s.resources.map((r) => r + ' Master ID'), 'Active Host Count'], 'th') +
    row([s.selfId, { text: s.masterId, cls: 'master' }, ...s.resourceMasters, active].map((v) => (typeof v === 'object' ? v : { text: v })));
  el('summary').dataset.master = String(s.masterId);
  el('hosts').innerHTML = row(['Host ID', 'Target', 'State', ...s.resources, 'Heartbeat age'], 'th') +
    s.hosts.map((h) => row([h.hostId, h.target, { text: h.state, cls: h.state }, ...h.resources.map((r) => ({ text: r, cls: r })), { text: ages(h), cls: 'age' }].map((v) => (typeof v === 'object' ? v : { text: v })), 'td', h.hostId === s.masterId ? 'master-row' : '')).join('');
  el('events').innerHTML = d.events.slice().reverse().map((e) => '<li><time>' + esc(new Date(e.atMs).toLocaleTimeString()) + '</time>' + esc(e.text) + '</li>').join('');
}
function connect() {
  const source = new EventSource('events');
  source.onmessage = (m) => { el('conn').textContent = 'live, updated ' + new Date().toLocaleTimeString(); el('conn').className = ''; render(JSON.parse(m.data)); };
  source.onerror = () => { el('conn').textContent = 'connection lost, retrying...'; el('conn').className = 'down'; };
}
connect();
</script>
</body>
</html>
`;
