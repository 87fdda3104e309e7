// The inspector (/inspect) in chromium against `ankurah serve`, with writes
// from two TypeScript clients (including concurrent edits of one entity)
// and, on Postgres, from SQL (and an app's table adopted in place). Each panel is checked against the server's
// state (SQL, the clients, the data endpoints) and photographed into
// test/e2e/out/inspect-<store>-<panel>.png.
//
//   node --experimental-websocket test/e2e/inspect.mjs postgres   (TEST_DATABASE_URL: a cluster; a policy and tokens)
//   node --experimental-websocket test/e2e/inspect.mjs embedded   (the embedded store; no policy: loopback)
//
// Run by test/e2e/run.sh, which builds everything and sets ANKURAH_BIN.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { sleep, freePort, need } from './lib.mjs';
import { Client, defineModel, metaOf } from '../../clients/ts/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'out');
mkdirSync(out, { recursive: true });
const mode = process.argv[2] ?? 'postgres';
if (mode !== 'postgres' && mode !== 'embedded') throw new Error(`usage: inspect.mjs postgres|embedded (not ${mode})`);
const pg = mode === 'postgres';
const bin = need('ANKURAH_BIN');
if (typeof WebSocket === 'undefined') throw new Error('no global WebSocket: run node with --experimental-websocket (Node 20)');
const run = promisify(execFile);

/** Retries fn until it returns a truthy value; fails after ms with what it last saw (or what show says). */
async function until(what, fn, ms = 20_000, show = null) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}${show ? ' ' + (await show()) : ''}`);
    await sleep(100);
  }
}

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${mode}: ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${mode}: ${name}\n     ${e instanceof Error ? e.stack : e}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}

// ── the server ─────────────────────────────────────────────────────────────

const tmp = mkdtempSync(path.join(tmpdir(), 'ankurah-inspect-'));
let db = '';
const sqlOn = async (url, query) => (await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-AtqX', '-c', query])).stdout.trim();
const sql = (query) => sqlOn(db, query);
const serveArgs = [];
let tokens = { admin: '', alice: '', bob: '' };

if (pg) {
  // A database of its own, a secret and a policy: the inspector needs an
  // administrator's token; the two clients are ordinary users.
  const cluster = need('TEST_DATABASE_URL');
  const dbName = 'inspect_e2e';
  await sqlOn(cluster, `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '${dbName}' and not active`);
  await sqlOn(cluster, `drop database if exists ${dbName}`);
  await sqlOn(cluster, `create database ${dbName}`);
  const u = new URL(cluster);
  u.pathname = `/${dbName}`;
  db = u.toString();
  const secret = path.join(tmp, 'secret');
  writeFileSync(secret, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
  const policy = path.join(tmp, 'policy.json');
  writeFileSync(policy, JSON.stringify({
    default_role: 'user',
    roles: {
      user: { schema: true, collections: { '*': { read: 'true', write: 'true' } } },
      admin: { admin: true, schema: true, collections: { '*': { read: 'true', write: 'true' } } },
    },
  }));
  const token = async (sub, role) => (await run(bin, ['token', '--jwt-secret-file', secret, '--sub', sub, '--role', role, '--ttl', '1h'])).stdout.trim();
  tokens = { admin: await token('root', 'admin'), alice: await token('alice', 'user'), bob: await token('bob', 'user') };
  serveArgs.push('--database-url', db, '--jwt-secret-file', secret, '--policy', policy);
  // An app's own table, adopted in place.
  await sql(`create table artist (id serial primary key, name text not null, country text)`);
  await sql(`insert into artist (name, country) values ('Muse', 'UK'), ('Radiohead', 'UK'), ('Air', 'FR')`);
  await run(bin, ['adopt', '--database-url', db, 'artist']);
} else {
  serveArgs.push('--data-dir', path.join(tmp, 'data'));
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const serverLog = createWriteStream(path.join(out, `server-inspect-${mode}.log`));
const server = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, ...serveArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ANKURAH_DATABASE_URL: '' } });
server.stdout.pipe(serverLog, { end: false });
server.stderr.pipe(serverLog, { end: false });
let exited = null;
server.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
process.on('exit', () => server.exitCode === null && server.kill('SIGKILL')); // a failed setup leaves no server behind
await until('the server to be ready', async () => {
  if (exited) throw new Error(`the server stopped: ${exited} (see test/e2e/out/server-inspect-${mode}.log)`);
  return (await fetch(`${base}/readyz`).catch(() => null))?.ok;
}, 60_000);

/** An inspector endpoint, as the administrator. */
async function inspect(p) {
  const res = await fetch(`${base}/inspect/api/${p}`, { headers: tokens.admin ? { Authorization: `Bearer ${tokens.admin}` } : {} });
  if (!res.ok) throw new Error(`GET /inspect/api/${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

// ── two clients ────────────────────────────────────────────────────────────

const Album = defineModel('album', { name: { type: 'text' }, artist: { type: 'text', nullable: true }, year: { type: 'bigint' } });
const url = `ws://127.0.0.1:${port}/ws`;
const opts = (name, token) => (token ? { url, clientName: name, token } : { url, clientName: name });
const alice = new Client(opts('e2e-alice', tokens.alice));
const bob = new Client(opts('e2e-bob', tokens.bob));
const aliceQ = alice.query(Album, 'year >= 2000 ORDER BY year DESC');
const bobQ = bob.query(Album, "artist = 'Muse'");
const offs = [aliceQ.subscribe(() => {}), bobQ.subscribe(() => {})];
await until('both live queries', () => aliceQ.get().status === 'live' && bobQ.get().status === 'live');

const showbiz = metaOf(await alice.create(Album, { name: 'Showbiz', artist: 'Muse', year: 2000 })).id;
await alice.create(Album, { name: 'Absolution', artist: 'Muse', year: 2003 });
await bob.create(Album, { name: 'OK Computer', artist: 'Radiohead', year: 1997 });
const headOf = (c) => c.peek(Album, showbiz) && metaOf(c.peek(Album, showbiz)).head.join();
await until('both clients to hold Showbiz', () => headOf(bob) && headOf(bob) === headOf(alice));
// Concurrent edits: both made on the same head, neither having seen the other's.
await Promise.all([alice.update(Album, showbiz, { name: 'Showbiz (alice)' }), bob.update(Album, showbiz, { name: 'Showbiz (bob)', year: 2001 })]);
await until('both clients to merge both edits', () => headOf(alice)?.includes(',') && headOf(alice) === headOf(bob));
// An edit on the merged state joins the branches.
await alice.update(Album, showbiz, { artist: 'Muse (merged)' });
if (pg) {
  await sql(`update album set year = 2002 where id = '${showbiz}'`);
  await sql(`insert into album (name, artist, year) values ('Black Holes and Revelations', 'Muse', 2006)`);
}
const want = pg ? { year: 2002, events: 5 } : { year: 2001, events: 4 };
await until('the last write at both clients', async () => {
  const v = alice.peek(Album, showbiz);
  const [w] = await bob.get(Album, [showbiz]);
  return v?.year === want.year && v.artist === 'Muse (merged)' && w?.year === want.year && w.artist === 'Muse (merged)';
}, 20_000, async () => JSON.stringify([alice.peek(Album, showbiz), await bob.get(Album, [showbiz])]));
const rowCount = async () => (pg ? Number(await sql('select count(*) from album')) : (await alice.fetch(Album)).length);

// ── the page ───────────────────────────────────────────────────────────────

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pageErrors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.on('pageerror', (e) => pageErrors.push(e.message));
// The refusals before the administrator's token is given are expected (401, 403).
page.on('console', (m) => m.type() === 'error' && !/status of 40[13]/.test(m.text()) && pageErrors.push(`console: ${m.text()}`));
page.on('request', (r) => !r.url().startsWith(base) && pageErrors.push(`a request outside the server: ${r.url()}`));
const shot = (panel) => page.locator(`#${panel}`).screenshot({ path: path.join(out, `inspect-${mode}-${panel}.png`) });
const text = (sel) => page.locator(sel).innerText();

try {
  await page.goto(`${base}/inspect`);
  if (pg) {
    await check('with a policy the page asks for an administrator token; a user token is refused', async () => {
      await page.waitForSelector('#auth:not([hidden])');
      await page.fill('#token', tokens.alice);
      await page.click('#auth button');
      await until('the refusal', async () => (await text('#auth-error')).includes('admin'));
      await page.fill('#token', tokens.admin);
      await page.click('#auth button');
    });
  }
  await page.waitForSelector('body[data-loaded]');

  await check('collections: fields, types, rows and changes as the server has them', async () => {
    const rows = await rowCount();
    const row = page.locator('tr[data-collection=album]');
    await until(`album with ${rows} rows`, async () => (await row.locator('[data-k=rows]').innerText()) === String(rows));
    const fields = await row.locator('[data-k=fields]').innerText();
    expect(/name text/.test(fields) && /artist text/.test(fields) && /year bigint/.test(fields), `fields: ${fields}`);
    expect((await row.locator('[data-k=origin]').innerText()).includes('created'), 'origin');
    const api = (await inspect('collections')).collections.find((c) => c.name === 'album');
    await until('the change count the server has', async () => Number((await row.locator('[data-k=changes]').innerText()).replace(/,/g, '')) >= api.changes && api.changes >= want.events + 2);
    expect((await text('#server')).includes(pg ? 'postgres store' : 'embedded store'), 'the backend in the header');
    if (pg) {
      const artist = page.locator('tr[data-collection=artist]');
      const n = await sql('select count(*) from artist');
      expect((await artist.locator('[data-k=origin]').innerText()).includes('adopted'), 'the adopted table shows as adopted');
      expect((await artist.locator('[data-k=rows]').innerText()) === n, `artist: ${n} rows in SQL`);
      expect(/name text/.test(await artist.locator('[data-k=fields]').innerText()), 'artist fields');
    }
    await shot('collections');
  });

  await check('query console: the live result from the TypeScript client, the SQL, a write arriving live', async () => {
    await page.selectOption('#query-collection', 'album');
    await page.fill('#query-text', "artist = 'Muse' ORDER BY year");
    await page.click('#query-form button');
    const status = page.locator('[data-testid=query-status]');
    const count = async () => (pg ? Number(await sql(`select count(*) from album where artist = 'Muse'`)) : (await alice.fetch(Album, "artist = 'Muse'")).length);
    const n = await count();
    await until(`${n} live rows`, async () => (await status.getAttribute('data-status')) === 'live' && (await status.getAttribute('data-count')) === String(n));
    const sqlText = await text('[data-testid=sql]');
    expect(sqlText.includes('"album"') && /where/i.test(sqlText), `the SQL: ${sqlText}`);
    if (pg) {
      // The SQL shown is the SQL the store runs: run it.
      const api = await inspect(`query?collection=album&q=${encodeURIComponent("artist = 'Muse' ORDER BY year")}`);
      expect(api.sql === sqlText.trim(), 'the page shows the endpoint\'s SQL');
      await sql(`insert into album (name, artist, year) values ('Drones', 'Muse', 2015)`);
    } else {
      await bob.create(Album, { name: 'Drones', artist: 'Muse', year: 2015 });
    }
    await until('the new row live on the page', async () => (await status.getAttribute('data-count')) === String(n + 1) && (await page.locator('[data-testid=query-rows]').innerText()).includes('Drones'));
    await shot('query');
  });

  await check('connections: each client, its subscription, members as the server counts them', async () => {
    await until('three connections (two clients and the page\'s)', async () => (await text('[data-testid=connections-summary]')).startsWith('3 connections, 3 subscriptions'));
    const api = await inspect('connections');
    for (const [client, q, lq] of [['e2e-alice', 'year >= 2000', aliceQ], ['e2e-bob', "artist = 'Muse'", bobQ]]) {
      const c = api.connections.find((x) => x.client === client);
      expect(c && c.subscriptions.length === 1, `${client} at the server: ${JSON.stringify(c)}`);
      if (pg) expect(c.subject === client.slice(4), `${client}'s subject: ${c.subject}`);
      const sub = page.locator(`tr[data-sub][data-session="${c.session}"]`);
      await until(`${client}'s subscription with ${lq.get().rows.length} members`, async () =>
        (await sub.locator('[data-k=query]').innerText()).includes(q) && (await sub.locator('[data-k=members]').innerText()) === String(lq.get().rows.length) && lq.get().rows.length === c.subscriptions[0].members);
    }
    await shot('connections');
  });

  await check('replication: totals as the server counts them, charts drawn', async () => {
    await until('the totals', async () => {
      const api = await inspect('replication');
      const t = await text('[data-testid=replication-totals]');
      return api.samples.length >= 3 && t.startsWith(`${api.transactions.toLocaleString('en-US')} transactions`);
    });
    await until('lines in the transactions chart', async () => (await page.locator('[data-chart=tps] path').count()) >= 1);
    if (pg) await until('the WAL lag measured', async () => !(await text('[data-testid=chart-lag-bytes-last]')).includes('–'));
    else expect((await text('[data-testid=replication-totals]')).includes('n/a'), 'no WAL lag on the embedded store');
    await shot('replication');
  });

  await check('history: the events as a graph, branches, the merge, why each field holds its value, the state at an event', async () => {
    await page.fill('#history-id', showbiz);
    await page.click('#history-form button');
    const nodes = page.locator('[data-testid=history-graph] g[data-event]');
    await until(`${want.events} events`, async () => (await nodes.count()) === want.events);
    const events = await alice.history(Album, showbiz);
    expect(events.length === want.events, `the server's history has ${events.length} events`);
    if (pg) expect(Number(await sql(`select count(*) from ankurah.events where entity_id = '${showbiz}'`)) === want.events, 'ankurah.events');
    for (const e of events) expect((await page.locator(`g[data-event="${e.id}"]`).count()) === 1, `event ${e.id} drawn`);
    const edges = events.reduce((n, e) => n + e.parents.length, 0);
    expect((await page.locator('[data-testid=history-graph] path.edge').count()) === edges, `${edges} edges`);
    // The two branches: the events whose parent is the creation.
    const branches = events.filter((e) => e.parents.length === 1 && e.parents[0] === showbiz).map((e) => e.id).sort();
    expect(branches.length === 2, `branches: ${branches}`);
    const ys = await Promise.all(branches.map((id) => page.locator(`g[data-event="${id}"]`).getAttribute('transform')));
    expect(ys[0].split(',')[1] === ys[1].split(',')[1] && ys[0] !== ys[1], `the branches side by side: ${ys}`);
    const merge = events.find((e) => e.parents.length === 2);
    expect(merge && (await page.locator(`g[data-event="${merge.id}"]`).getAttribute('data-merge')) === 'true', 'the merge drawn as one');
    if (pg) expect((await page.locator('g[data-origin=sql]').count()) === 1, 'the SQL update drawn as SQL');
    // The name: concurrent writes, the larger event id wins; SQL and the client agree.
    const name = pg ? await sql(`select name from album where id = '${showbiz}'`) : alice.peek(Album, showbiz).name;
    const winner = branches[1];
    const row = page.locator('tr[data-field=name]');
    expect((await row.locator('[data-k=value]').innerText()) === JSON.stringify(name), `name shown ${await row.locator('[data-k=value]').innerText()}, SQL ${name}`);
    expect((await row.locator('[data-k=reason]').innerText()).startsWith('concurrent'), 'name: concurrent');
    expect((await row.innerText()).includes(winner.slice(-8)), 'name written by the larger id');
    expect((await page.locator('tr[data-field=artist] [data-k=reason]').innerText()).startsWith('causal'), 'artist: causal');
    await shot('history');
    // Click the losing branch: the state as of that event.
    const loser = events.find((e) => e.id === branches[0]);
    await page.locator(`g[data-event="${loser.id}"]`).click();
    await until('the state at the losing branch', async () => (await text('[data-testid=state-title]')).startsWith(`State at ${loser.id.slice(-8)}`));
    const state = JSON.parse(await text('[data-testid=state]'));
    expect(state.name === loser.operations.name && state.artist === 'Muse', `the state at ${loser.id}: ${JSON.stringify(state)}`);
    expect((await page.locator('[data-testid=event-detail]').innerText()).includes(branches[1].slice(-8)), 'the event is concurrent with the other branch');
    await page.locator('#history').screenshot({ path: path.join(out, `inspect-${mode}-history-at-event.png`) });
  });

  await check('the page is read-only and loads nothing from elsewhere', async () => {
    const res = await fetch(`${base}/inspect/api/collections`, { method: 'POST', headers: tokens.admin ? { Authorization: `Bearer ${tokens.admin}` } : {} });
    expect(res.status === 405, `POST: ${res.status}`);
    expect(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  });
  await page.screenshot({ path: path.join(out, `inspect-${mode}-page.png`), fullPage: true });
} finally {
  offs.forEach((off) => off());
  alice.close();
  bob.close();
  await browser.close();
  await new Promise((resolve) => {
    if (server.exitCode !== null) return resolve();
    server.once('exit', resolve);
    server.kill('SIGTERM');
  });
  rmSync(tmp, { recursive: true, force: true });
}
console.log(failures === 0 ? `inspect.mjs ${mode}: every check passed` : `inspect.mjs ${mode}: ${failures} checks failed`);
process.exit(failures === 0 ? 0 : 1);
