// The query console: a query's live result from the project's TypeScript
// client (a live query over the server's WebSocket, with the page's token),
// and the SQL it becomes on Postgres from /inspect/api/query.
import { Client, defineModel, metaOf, type FieldSpec, type LiveQuery, type Model } from '@ankurah/client';
import { api, token, type Collection, type QueryResult } from './api.js';
import { fill, h, json } from './dom.js';

let client: Client | null = null;
let clientToken = '';
let stop: (() => void) | null = null;

function connect(): Client {
  if (client && clientToken === token) return client;
  client?.close();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  // The page reads only: it registers no schema and commits nothing.
  client = token ? new Client({ url, registerSchema: false, clientName: 'ankurah-inspector', token }) : new Client({ url, registerSchema: false, clientName: 'ankurah-inspector' });
  clientToken = token;
  return client;
}

function modelOf(c: Collection): Model<Record<string, unknown>> {
  const fields: Record<string, FieldSpec> = {};
  for (const f of c.fields) fields[f.name] = (f.refers ? { type: f.type, nullable: true, refers: f.refers } : { type: f.type, nullable: true }) as FieldSpec;
  return defineModel<Record<string, unknown>>(c.name, fields as Model<Record<string, unknown>>['fields']);
}

/** Shows q's SQL and its live result in el until the next query. */
export function startQuery(el: HTMLElement, c: Collection, q: string, onHistory: (id: string) => void): void {
  stop?.();
  stop = null;
  const sqlBox = h('div', { 'data-testid': 'query-sql' }, h('span', { class: 'muted' }, 'translating…'));
  const status = h('p', { 'data-testid': 'query-status' });
  const rows = h('div', { 'data-testid': 'query-rows' });
  fill(el, sqlBox, status, rows);
  api<QueryResult>('query', { collection: c.name, q })
    .then((r) => fill(sqlBox, h('div', { class: 'muted' }, `On ${r.sql_on}:`), h('pre', { class: 'mono', 'data-testid': 'sql' }, r.sql),
      r.args.length > 0 ? h('div', { class: 'mono' }, 'with ', r.args.map((a, i) => `$${i + 1} = ${json(a)}`).join(', ')) : null))
    .catch((e: Error) => fill(sqlBox, h('p', { class: 'error' }, e.message)));

  let lq: LiveQuery<Record<string, unknown>>;
  try {
    lq = connect().query(modelOf(c), q as never);
  } catch (e) {
    fill(status, h('span', { class: 'error' }, (e as Error).message));
    return;
  }
  const names = c.fields.map((f) => f.name);
  const render = () => {
    const snap = lq.get();
    fill(status, `${snap.status} · ${snap.rows.length} rows`, snap.error ? h('span', { class: 'error' }, ` · ${snap.error.code}: ${snap.error.message}`) : '');
    status.dataset['status'] = snap.status;
    status.dataset['count'] = String(snap.rows.length);
    fill(rows, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'id'), ...names.map((n) => h('th', {}, n)))),
      h('tbody', {}, ...snap.rows.map((v) => {
        const m = metaOf(v);
        return h('tr', { 'data-id': m.id },
          h('td', { class: 'mono' }, h('button', { class: 'link', title: 'show its history', onclick: () => onHistory(m.id) }, m.id)),
          ...names.map((n) => h('td', { class: 'mono', 'data-field': n }, json(m.values[n] ?? null))));
      }))));
  };
  render();
  stop = lq.subscribe(render);
}
