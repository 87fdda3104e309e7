// The inspector page: five panels over the endpoints of /inspect/api/
// (polled once a second), the query console's live result from the
// project's own TypeScript client, and an entity's history as a graph.
import { api, HttpError, setToken, token, type Collection, type Connections, type History, type Replication, type ServerInfo } from './api.js';
import { chart } from './charts.js';
import { age, bytes, fill, h, json, num, table } from './dom.js';
import { graph, legend, op, short, shortIds } from './graph.js';
import { startQuery } from './console.js';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const body = (panel: string) => $(`#${panel} .body`);

let collections: Collection[] = [];
let needToken = false;

async function refreshServer(): Promise<void> {
  const info = await api<ServerInfo>('server');
  fill($('#server'), `${info.server} · ${info.backend} store · up ${age(info.uptime_seconds)} · access: ${info.access}`);
  $('#server').dataset['backend'] = info.backend;
}

async function refreshCollections(): Promise<void> {
  const { collections: cs } = await api<{ backend: string; collections: Collection[] }>('collections');
  collections = cs;
  const sel = $<HTMLSelectElement>('#query-collection');
  const chosen = sel.value;
  if ([...sel.options].map((o) => o.value).join() !== cs.map((c) => c.name).join()) {
    fill(sel, ...cs.map((c) => h('option', { value: c.name }, c.name)));
    if (chosen) sel.value = chosen;
  }
  fill(body('collections'), cs.length === 0 ? h('p', { class: 'muted' }, 'No collections yet.') : table(
    ['Collection', 'Origin', 'Rows', 'Writes/s (1 min)', 'Changes', 'Fields'],
    cs.map((c) => h('tr', { 'data-collection': c.name },
      h('td', {}, h('b', {}, c.name), c.table ? h('div', { class: 'muted mono' }, c.table) : null),
      h('td', { 'data-k': 'origin' }, h('span', { class: 'tag ' + c.origin }, c.origin), c.state && c.state !== 'ready' ? ` (${c.state})` : ''),
      h('td', { class: 'num', 'data-k': 'rows' }, (c.rows_exact ? '' : '≈') + num(c.rows)),
      h('td', { class: 'num', 'data-k': 'writes' }, num(c.writes_per_second, 2)),
      h('td', { class: 'num', 'data-k': 'changes' }, num(c.changes)),
      h('td', { class: 'mono', 'data-k': 'fields' }, c.fields.map((f) => `${f.name} ${f.type}${f.refers ? ' → ' + f.refers : ''}`).join(', ')),
    )), [2, 3, 4]));
}

async function refreshConnections(): Promise<void> {
  const cs = await api<Connections>('connections');
  const rows: Node[] = [];
  for (const c of cs.connections) {
    rows.push(h('tr', { class: c.slow ? 'slow' : undefined, 'data-session': c.session, 'data-client': c.client },
      h('td', {}, h('b', {}, c.client || '(unnamed)'), ' ', h('span', { class: 'muted mono' }, c.session.slice(-8)), c.slow ? h('span', { class: 'tag slow' }, ' slow consumer') : null),
      h('td', {}, c.subject ?? h('span', { class: 'muted' }, 'anonymous')),
      h('td', { class: 'mono' }, c.remote),
      h('td', { class: 'num' }, age(c.age_seconds)),
      h('td', { class: 'num', 'data-k': 'members' }, ''),
      h('td', { class: 'num' }, num(c.frames_per_second, 1)),
      h('td', { class: 'num' }, bytes(c.bytes_per_second) + '/s'),
      h('td', { class: 'num', 'data-k': 'queue' }, `${c.queue} / ${c.queue_limit}`),
    ));
    for (const s of c.subscriptions) {
      rows.push(h('tr', { class: 'sub' + (c.slow ? ' slow' : ''), 'data-sub': s.name, 'data-session': c.session },
        h('td', {}, h('span', { class: 'mono' }, s.name)),
        h('td', { colspan: 2 }, h('code', { 'data-k': 'query' }, `${s.collection}${s.query ? ' WHERE ' + s.query : ''}`),
          s.effective ? h('div', { class: 'muted mono' }, 'runs as ', s.effective) : null, s.stale ? h('span', { class: 'tag' }, 'refilling') : null),
        h('td', { class: 'num muted' }, `${num(s.frames)} frames`),
        h('td', { class: 'num', 'data-k': 'members' }, num(s.members)),
        h('td', { class: 'num' }, num(s.frames_per_second, 1)),
        h('td', { class: 'num' }, bytes(s.bytes_per_second) + '/s'),
        h('td', { class: 'num' }, String(s.queue)),
      ));
    }
  }
  fill(body('connections'),
    h('p', { 'data-testid': 'connections-summary' }, `${cs.connections.length} connections, ${cs.subscriptions} subscriptions`, cs.truncated ? ' (the slowest and busiest shown)' : ''),
    table(['Client / subscription', 'Subject / query', 'Address', 'Age', 'Members', 'Frames/s', 'Bytes/s', 'Queue'], rows, [3, 4, 5, 6, 7]),
    cs.slow_consumers.length > 0 ? h('div', {}, h('h3', {}, 'Disconnected as slow consumers'), table(['When', 'Client', 'Address', 'Why'],
      cs.slow_consumers.map((x) => h('tr', { class: 'slow' }, h('td', {}, x.at.slice(11, 19)), h('td', {}, x.client), h('td', { class: 'mono' }, x.remote), h('td', {}, x.reason))))) : null,
  );
}

async function refreshReplication(): Promise<void> {
  const r = await api<Replication>('replication');
  const win = 300;
  fill(body('replication'),
    h('p', { 'data-testid': 'replication-totals' }, `${num(r.transactions)} transactions, ${num(r.changes)} changes since start · lag `,
      r.lag_bytes === null ? 'n/a (no WAL on the ' + r.backend + ' store)' : bytes(r.lag_bytes), ` · ${r.slow_consumer_disconnects} slow consumers disconnected`),
    h('div', { class: 'charts' },
      chart('lag-bytes', 'Lag behind the source (bytes of WAL)', r.samples, [{ label: 'bytes', color: '#7c3aed', value: (x) => x.lag_bytes }], win, (v) => bytes(v)),
      chart('lag-seconds', 'Commit → frames queued (s)', r.samples, [{ label: 'mean', color: '#dc2626', value: (x) => x.lag_seconds }], win, (v) => num(v, 4)),
      chart('tps', 'Transactions per second', r.samples, [{ label: 'tx/s', color: '#2563eb', value: (x) => x.transactions_per_second }, { label: 'changes/s', color: '#16a34a', value: (x) => x.changes_per_second }], win, (v) => num(v, 1)),
      chart('fanout', 'Fan-out latency (ms)', r.samples, [{ label: 'mean', color: '#0891b2', value: (x) => x.fanout_ms }, { label: 'max', color: '#ea580c', value: (x) => x.fanout_max_ms }], win, (v) => num(v, 3)),
    ));
}

let historyAt: string | undefined;

export async function showHistory(id: string, at?: string): Promise<void> {
  historyAt = at;
  $<HTMLInputElement>('#history-id').value = id;
  const err = $('#history-form .error');
  fill(err);
  let hist: History;
  try {
    hist = await api<History>('history', at ? { id, at } : { id });
  } catch (e) {
    fill(err, (e as Error).message);
    return;
  }
  const fields = table(['Field', 'Value', 'Written by', 'Why it won'], hist.fields.map((f) => h('tr', { 'data-field': f.field },
    h('td', {}, f.field),
    h('td', { class: 'mono', 'data-k': 'value' }, json(f.value)),
    h('td', { class: 'mono' }, h('button', { class: 'link', onclick: () => void showHistory(id, f.event) }, short(f.event))),
    h('td', { 'data-k': 'reason' }, h('span', { class: 'tag' }, f.reason), ' ', shortIds(f.explanation),
      f.others.length > 0 ? h('div', { class: 'muted mono' }, f.reason === 'merged' ? 'also merged: ' + f.others.map((o) => short(o.event)).join(', ')
        : 'lost: ' + f.others.map((o) => `${short(o.event)}=${json(o.value)} (${o.relation})`).join(', ')) : null),
  )));
  const ev = at ? hist.events.find((e) => e.id === at) : undefined;
  fill(body('history'), h('div', { class: 'graph' },
    h('div', {}, graph(hist.events, at, (eid) => void showHistory(id, eid === historyAt ? undefined : eid)), h('div', {}, legend())),
    h('div', { class: 'detail' },
      h('p', {}, h('b', {}, hist.collection), ' ', h('span', { class: 'mono' }, hist.id), ` · ${hist.events.length} events · head `, h('span', { class: 'mono' }, hist.head.map(short).join(', '))),
      ev ? h('div', { 'data-testid': 'event-detail' }, h('h3', {}, 'Event ', h('span', { class: 'mono' }, ev.id)),
        h('div', {}, `${ev.time} · ${ev.origin.toUpperCase()}${ev.author ? ' by ' + ev.author : ''}${ev.recorded_at ? ' · recorded ' + ev.recorded_at : ''}`),
        h('div', { class: 'mono' }, 'parents: ', ev.parents.map(short).join(', ') || 'none (the creation)'),
        h('div', { class: 'mono' }, 'concurrent with: ', ev.concurrent.map(short).join(', ') || 'none'),
        h('pre', {}, ev.delete ? 'delete' : Object.entries(ev.operations).map(([k, v]) => `${k}: ${op(v)}`).join('\n'))) : null,
      h('h3', { 'data-testid': 'state-title' }, at ? `State at ${short(at)} (that event and its ancestors)` : 'Current state', ' ',
        at ? h('button', { class: 'link', onclick: () => void showHistory(id) }, 'back to now') : null),
      h('pre', { 'data-testid': 'state' }, JSON.stringify(hist.state.values, null, 1)),
      h('h3', {}, 'Why each field holds its value'), fields,
    )));
}

// Collections are read every fifth tick: on Postgres each read counts every
// table's rows (within a second, else the planner's estimate).
let ticks = 0;

async function tick(): Promise<void> {
  if (needToken) return;
  try {
    await Promise.all([refreshServer(), ticks++ % 5 === 0 ? refreshCollections() : null, refreshConnections(), refreshReplication()]);
    document.body.dataset['loaded'] = 'true';
  } catch (e) {
    if (e instanceof HttpError && (e.status === 401 || e.status === 403)) {
      needToken = true;
      $('#auth').hidden = false;
      fill($('#auth-error'), e.message);
      return;
    }
    fill($('#server'), h('span', { class: 'error' }, (e as Error).message));
  }
}

function main(): void {
  $<HTMLInputElement>('#token').value = token;
  $('#auth').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($<HTMLInputElement>('#token').value.trim());
    needToken = false;
    ticks = 0;
    $('#auth').hidden = true;
    void tick();
  });
  $('#history-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void showHistory($<HTMLInputElement>('#history-id').value.trim());
  });
  $('#query-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const coll = collections.find((c) => c.name === $<HTMLSelectElement>('#query-collection').value);
    if (coll) startQuery(body('query'), coll, $<HTMLInputElement>('#query-text').value.trim(), (id) => void showHistory(id));
  });
  const p = new URLSearchParams(location.search);
  const id = p.get('entity');
  if (id) void showHistory(id, p.get('at') ?? undefined);
  void tick();
  setInterval(() => void tick(), 1000);
}

main();
