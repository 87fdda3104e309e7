// The albums example in chromium against a real server and Postgres.
// Run by test/e2e/run.sh, which builds everything and sets TEST_DATABASE_URL
// (a throwaway cluster) and ANKURAH_BIN (the server binary).
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { sleep, until, freePort, need } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(here, 'out');
const dist = path.join(root, 'examples/albums/dist');
const db = need('TEST_DATABASE_URL');
const bin = need('ANKURAH_BIN');
mkdirSync(out, { recursive: true });

// ── helpers ────────────────────────────────────────────────────────────────

/** Runs SQL with psql; returns the unaligned, tuples-only output. */
async function sql(query) {
  const { stdout } = await promisify(execFile)('psql', [db, '-v', 'ON_ERROR_STOP=1', '-AtqX', '-c', query]);
  return stdout.trim();
}

const serverLog = createWriteStream(path.join(out, 'server.log'));

/** Starts `ankurah serve` on Postgres and waits until /readyz says ready. */
async function startServer(port) {
  const proc = spawn(bin, ['serve', '--database-url', db, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.pipe(serverLog, { end: false });
  proc.stderr.pipe(serverLog, { end: false });
  let exited = null;
  proc.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  await until('the server to be ready', async () => {
    if (exited) throw new Error(`the server stopped: ${exited} (see test/e2e/out/server.log)`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return res?.ok;
  }, 60_000);
  return proc;
}

function stopServer(proc, signal) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/** Serves the built example (any static server would do). */
function serveStatic(dir) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.join(dir, path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ''));
    if (!existsSync(file) || statSync(file).isDirectory()) file = path.join(dir, 'index.html');
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ── the page ───────────────────────────────────────────────────────────────

const pageErrors = [];
let refused = 0;

/** Opens the page in a new browser context (its own storage), or in the given context (a tab of the same origin). */
async function openPage(browser, url, name, context) {
  const page = context ? await context.newPage() : await browser.newPage({ viewport: { width: 900, height: 640 } });
  watchPage(page, name);
  await page.goto(url);
  await connected(page);
  await page.waitForSelector('[data-testid=status][data-status=live]');
  return page;
}

function watchPage(page, name) {
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Refused connections while the server is down are expected: count them.
    if (m.text().includes('ERR_CONNECTION_REFUSED')) refused++;
    else console.log(`  [${name} console] ${m.text()}`);
  });
}

const connected = (page) => page.waitForSelector('[data-testid=connection][data-status=connected]', { timeout: 30_000 });

/** The rows on the page as "name|artist|year", in page order. */
function rows(page) {
  return page.$$eval('[data-testid=album-row]:not(.editing)', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td.name, td.artist, td.year')].map((td) => td.textContent).join('|')),
  );
}

/** The rows in SQL, in the page's order (year DESC, name). */
async function sqlRows() {
  const s = await sql(`select name || '|' || coalesce(artist, '') || '|' || case when year is null or year = 0 then '' else year::text end from album order by year desc nulls first, name collate "C", id`);
  return s === '' ? [] : s.split('\n');
}

function row(page, name) {
  return page.locator('[data-testid=album-row]', { has: page.locator('td.name', { hasText: new RegExp(`^${name.replace(/[()]/g, '\\$&')}$`) }) });
}

/** Opens a row's inline editor and fills it. */
async function edit(page, name, values) {
  await row(page, name).locator('td.name').dblclick();
  const form = page.locator('tr.editing form');
  for (const [field, v] of Object.entries(values)) await form.locator(`input[name=${field}]`).fill(String(v));
  return form;
}

async function add(page, name, artist, year) {
  const form = page.locator('form.add');
  await form.locator('input[name=name]').fill(name);
  await form.locator('input[name=artist]').fill(artist);
  await form.locator('input[name=year]').fill(String(year));
  await form.locator('button[type=submit]').click();
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The SQL statements of the README's web section (its sql block), as written. */
function readmeWebSQL() {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const web = readme.slice(readme.indexOf('## Web: TypeScript and React'));
  const block = /```sql\n([\s\S]*?)```/.exec(web.slice(0, web.indexOf('\n## ', 5)));
  if (!block) throw new Error("the README's web section has no sql block");
  return block[1].split(';').map((q) => q.trim()).filter(Boolean);
}

/** Records the commit frames a page sends (event ids of each), across reloads. */
function recordCommits(page, into) {
  page.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => {
      try {
        const f = JSON.parse(String(payload));
        if (f.type === 'commit') into.push(f.events.map((e) => e.id));
      } catch {
        // not ours to judge here
      }
    }),
  );
}

const visibleText = (page, sel) => page.locator(sel).innerText({ timeout: 15_000 });

/** An album's notes textarea (bound to its Y.Text). */
const notes = (page, name) => row(page, name).locator('textarea[data-testid=notes]');

/** An album's notes in SQL (the ytext column's text). */
const sqlNotes = async (name) => {
  // Bracketed: psql's output is trimmed, the text may end with a blank.
  const s = await sql(`select coalesce('[' || notes || ']', '<null>') from album where name = '${name.replace(/'/g, "''")}'`);
  return s === '<null>' ? s : s.slice(1, -1);
};

/** The p-th percentile (0–100) of sorted numbers. */
const percentile = (xs, p) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))];


// ── the checks ─────────────────────────────────────────────────────────────

let failed = false;
async function check(name, fn) {
  const t = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}: ${e.message}`);
    throw e;
  }
}

const port = await freePort();
const ws = `ws://127.0.0.1:${port}/ws`;
let server = await startServer(port);
const web = await serveStatic(dist);
const pageURL = `http://127.0.0.1:${web.address().port}/?server=${encodeURIComponent(ws)}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let a;
let b;
try {
  await check("an unreachable server: the page shows its address and the error, not only in a tooltip", async () => {
    const deadPort = await freePort();
    const deadURL = `ws://127.0.0.1:${deadPort}/ws`;
    const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
    watchPage(page, 'unreachable');
    await page.goto(`http://127.0.0.1:${web.address().port}/?server=${encodeURIComponent(deadURL)}`);
    const problem = await visibleText(page, '[data-testid=connection-error]');
    if (!problem.includes(deadURL) || !problem.includes('connect_failed')) throw new Error(`the page says ${JSON.stringify(problem)}`);
    // Suspense's fallback names the server too, instead of an endless "Loading…".
    const fallback = await visibleText(page, '[data-testid=suspense-fallback]');
    if (!fallback.includes(deadURL)) throw new Error(`the fallback says ${JSON.stringify(fallback)}`);
    await page.screenshot({ path: path.join(out, 'albums-unreachable.png'), fullPage: true });
    await page.close();
    console.log(`     ${JSON.stringify(problem)}`);
  });

  await check("the README's web steps work in the order written on a fresh database", async () => {
    // Fresh: no page has connected yet, so the collection does not exist.
    if ((await sql(`select to_regclass('album') is null`)) !== 't') throw new Error('the database is not fresh');
    a = await openPage(browser, pageURL, 'page A'); // "Open the page"
    for (const q of readmeWebSQL()) await sql(q); // "Then, in psql"
    await until('the README rows on the page', async () => same(await rows(a), ['Showbiz|Muse|2000']));
    await sql(`delete from album where name = 'Showbiz'`);
    await until('the page to be empty again', async () => (await rows(a)).length === 0);
  });

  await check('a row INSERTed with plain SQL appears on the page', async () => {
    await sql(`insert into album (name, artist, year) values ('Origin of Symmetry', 'Muse', 2001)`);
    await until('the row on the page', async () => (await rows(a)).includes('Origin of Symmetry|Muse|2001'));
    await sql(`update album set year = 2003, name = 'Absolution' where name = 'Origin of Symmetry'`);
    await until('the SQL update on the page', async () => same(await rows(a), ['Absolution|Muse|2003']));
  });

  await check('edits on the page are visible to SQL (add, inline edit, delete)', async () => {
    await add(a, 'Showbiz', 'Muse', 1999);
    await until('the added row in SQL', async () => (await sql(`select count(*) from album where name = 'Showbiz' and year = 1999`)) === '1');
    const form = await edit(a, 'Absolution', { name: 'Origin of Symmetry', year: 2001 });
    await form.locator('button[type=submit]').click();
    await until('the edit in SQL', async () => (await sql(`select name || ' ' || year from album where artist = 'Muse' order by year desc limit 1`)) === 'Origin of Symmetry 2001');
    await add(a, 'Temporary', 'Nobody', 2020);
    await until('the temporary row', async () => (await rows(a)).includes('Temporary|Nobody|2020'));
    // In SQL first, so that its absence afterwards is the deletion's doing.
    await until('the temporary row in SQL', async () => (await sql(`select count(*) from album where name = 'Temporary'`)) === '1');
    await row(a, 'Temporary').getByRole('button', { name: 'Delete Temporary' }).click();
    await until('the deletion in SQL', async () => (await sql(`select count(*) from album where name = 'Temporary'`)) === '0');
    await until('the page and SQL to agree', async () => same(await rows(a), await sqlRows()));
  });

  await check('two pages converge after concurrent edits', async () => {
    b = await openPage(browser, pageURL, 'page B');
    await until('page B to show the rows', async () => same(await rows(b), await rows(a)));
    // Both pages edit the same album from the same version, then save together.
    const fa = await edit(a, 'Showbiz', { name: 'Showbiz (A)', artist: 'Muse A' });
    const fb = await edit(b, 'Showbiz', { name: 'Showbiz (B)', year: 2000 });
    await Promise.all([fa.locator('button[type=submit]').click(), fb.locator('button[type=submit]').click()]);
    // And a burst of concurrent edits on another album.
    await Promise.all([
      edit(a, 'Origin of Symmetry', { year: 2005 }).then((f) => f.locator('button[type=submit]').click()),
      edit(b, 'Origin of Symmetry', { year: 2006 }).then((f) => f.locator('button[type=submit]').click()),
    ]);
    const final = await until('both pages and SQL to agree', async () => {
      const [ra, rb, rs] = await Promise.all([rows(a), rows(b), sqlRows()]);
      return same(ra, rb) && same(ra, rs) && !ra.some((r) => r.startsWith('Showbiz|')) && ra;
    });
    const showbiz = final.find((r) => r.startsWith('Showbiz ('));
    const history = () => sql(`select e.id || ' ' || e.parents::text || ' ' || e.operations::text from ankurah.events e join album a on a.id = e.entity_id where a.name like 'Showbiz (%' order by e.id`);
    // The two edits were concurrent: both have the creation as their only parent (neither saw the other).
    const forked = await sql(`select count(*) from ankurah.events e join album a on a.id = e.entity_id where a.name like 'Showbiz (%' and e.parents = array[e.entity_id]`);
    if (forked !== '2') throw new Error(`the two edits of Showbiz were not concurrent (${forked} edits of the creation); history:\n${await history()}`);
    // Per property: the year only B changed is kept, the artist only A changed too; the name is one of the two.
    if (!/^Showbiz \((A|B)\)\|Muse A\|2000$/.test(showbiz ?? '')) {
      throw new Error(`unexpected merge: ${showbiz}; history:\n${await history()}`);
    }
    console.log(`     converged on ${JSON.stringify(final)}`);
  });

  await check('two pages type in one album\'s notes at once, at the same position, while psql edits them: nothing typed is lost', async () => {
    const name = 'Origin of Symmetry';
    const [ta, tb] = [notes(a, name), notes(b, name)];
    await ta.click();
    await tb.click();
    // Both carets at position 0 of the empty text: the same position.
    const sa = 'Typed on A: héllo 😀. ';
    const sb = 'Typed on B: ünï 中文 👩‍👧. ';
    const typing = Promise.all([ta.pressSequentially(sa, { delay: 15 }), tb.pressSequentially(sb, { delay: 15 })]);
    // A third writer while they type: psql prepends to the column.
    await until('the first keystrokes in SQL', async () => !['', '<null>'].includes(await sqlNotes(name)), 20_000);
    await sql(`update album set notes = 'psql: ' || notes where name = '${name}'`);
    await typing;
    let seen = [];
    const final = await until('both pages and SQL to agree on the notes', async () => {
      const [va, vb, vs] = (seen = await Promise.all([ta.inputValue(), tb.inputValue(), sqlNotes(name)]));
      return va === vb && va === vs && va.includes(sa) && va.includes(sb) && va.includes('psql: ') && va.length === sa.length + sb.length + 'psql: '.length && va;
    }, 30_000).catch((e) => {
      throw new Error(`${e.message}: page A ${JSON.stringify(seen[0])}, page B ${JSON.stringify(seen[1])}, SQL ${JSON.stringify(seen[2])}`);
    });
    // Every keystroke became an event with a Yjs update, merged on the server; the psql edit one with origin sql.
    const kinds = await sql(`select string_agg(distinct e.origin || ':' || ((e.operations -> 'notes') ? 'yjs')::text, ',') from ankurah.events e join album al on al.id = e.entity_id where al.name = '${name}' and e.operations ? 'notes'`);
    if (!kinds.includes('sql:true') || !kinds.includes('api:true') || kinds.includes('false')) throw new Error(`the notes' events: ${kinds}`);
    console.log(`     converged on ${JSON.stringify(final)}`);
  });

  await check('keystroke → other page latency through the server (page A types, page B shows)', async () => {
    await add(a, 'Latency', 'Bench', 2030);
    await until('the album on page B', async () => (await rows(b)).includes('Latency|Bench|2030'));
    const [ta, tb] = [notes(a, 'Latency'), notes(b, 'Latency')];
    // Timestamps from the one machine's clock (timeOrigin + now: sub-millisecond, comparable across pages).
    await ta.evaluate((el) => {
      window.__typed = [];
      el.addEventListener('input', () => window.__typed.push([el.value.length, performance.timeOrigin + performance.now()]));
    });
    await tb.evaluate((el) => {
      window.__seen = [];
      new MutationObserver(() => window.__seen.push([Number(el.dataset.length), performance.timeOrigin + performance.now()])).observe(el, { attributes: true, attributeFilter: ['data-length'] });
    });
    const keys = Number(process.env.E2E_KEYS ?? 200);
    const text = 'the quick brown fox jumps over the lazy dog 😀 '.repeat(Math.ceil(keys / 40)).slice(0, keys);
    await ta.click();
    await ta.pressSequentially(text, { delay: 30 });
    await until('page B to show every keystroke', async () => (await tb.inputValue()) === (await ta.inputValue()), 30_000);
    const typed = await a.evaluate(() => window.__typed);
    const seen = await b.evaluate(() => window.__seen);
    const at = new Map();
    for (const [len, t] of seen) if (!at.has(len)) at.set(len, t);
    const lat = typed.map(([len, t]) => at.get(len) - t).filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
    if (lat.length < typed.length * 0.9) throw new Error(`page B showed ${lat.length} of ${typed.length} intermediate texts`);
    const fig = { keystrokes: typed.length, measured: lat.length, median_ms: +percentile(lat, 50).toFixed(2), p90_ms: +percentile(lat, 90).toFixed(2), p99_ms: +percentile(lat, 99).toFixed(2), max_ms: +lat[lat.length - 1].toFixed(2) };
    writeFileSync(path.join(out, 'latency.json'), JSON.stringify(fig, null, 2) + '\n');
    console.log(`     ${JSON.stringify(fig)} (test/e2e/out/latency.json)`);
  });

  await check('the page recovers after the server restarts (crash, writes while down)', async () => {
    await stopServer(server, 'SIGKILL');
    await a.waitForSelector('[data-testid=connection]:not([data-status=connected])', { timeout: 15_000 });
    // While the server is down: a SQL write, and an edit on the page (shown at once, sent later).
    await sql(`insert into album (name, artist, year) values ('Black Holes and Revelations', 'Muse', 2006)`);
    await add(a, 'Drones', 'Muse', 2015);
    await until('the offline add on page A', async () => (await rows(a)).includes('Drones|Muse|2015'));
    // The mutation hook says it is saving (not confirmed) while the server is away.
    await a.waitForSelector('[data-testid=add-status][data-status=pending]');
    const saving = await visibleText(a, '[data-testid=add-status]');
    if (saving !== 'Saving…') throw new Error(`the add form says ${JSON.stringify(saving)} while offline`);
    // An edit too, then reload the page: the pending writes are still there,
    // shown from IndexedDB before any server answers.
    await (await edit(a, 'Origin of Symmetry', { artist: 'Muse (offline)' })).locator('button[type=submit]').click();
    await until('the offline edit on page A', async () => (await rows(a)).some((r) => r.startsWith('Origin of Symmetry|Muse (offline)|')));
    const before = await rows(a);
    await a.reload();
    await a.waitForSelector('[data-testid=status][data-status=cached]');
    const after = await rows(a);
    if (!same(after, before)) throw new Error(`after the reload the page shows ${JSON.stringify(after)}, before it showed ${JSON.stringify(before)}`);
    const pendingRows = await a.$$eval('[data-testid=album-row].pending td.name', (tds) => tds.map((td) => td.textContent));
    if (!pendingRows.includes('Drones') || !pendingRows.includes('Origin of Symmetry')) throw new Error(`pending rows after the reload: ${JSON.stringify(pendingRows)}`);
    // Let both pages fail a few reconnection attempts (backing off) before the server is back.
    const attempts = async (page) => Number(await page.getAttribute('[data-testid=connection]', 'data-attempt'));
    await until('both pages to fail reconnecting twice', async () => (await attempts(a)) >= 3 && (await attempts(b)) >= 3);
    const badge = await a.textContent('[data-testid=connection]');
    if (!/(Reconnecting|Connecting)… \(attempt \d+/.test(badge ?? "")) throw new Error(`the connection indicator says ${JSON.stringify(badge)} while the server is down`); // Connecting: page A was reloaded
    await a.screenshot({ path: path.join(out, 'albums-reconnecting.png'), fullPage: true });
    server = await startServer(port);
    await Promise.all([connected(a), connected(b)]);
    await until('both pages and SQL to agree after the restart', async () => {
      const [ra, rb, rs] = await Promise.all([rows(a), rows(b), sqlRows()]);
      return same(ra, rb) && same(ra, rs) && ra.includes('Drones|Muse|2015') && ra.includes('Black Holes and Revelations|Muse|2006') && ra.some((r) => r.startsWith('Origin of Symmetry|Muse (offline)|'));
    }, 30_000);
    if ((await sql(`select count(*) from album where name = 'Drones'`)) !== '1') throw new Error('Drones is not in SQL exactly once');
    await a.waitForSelector('[data-testid=status][data-status=live]');
    // Live again, not just resynchronised: a SQL write after the restart reaches both pages.
    await sql(`update album set year = 2016 where name = 'Drones'`);
    await until('a SQL write after the restart on both pages', async () => {
      const [ra, rb] = await Promise.all([rows(a), rows(b)]);
      return ra.includes('Drones|Muse|2016') && rb.includes('Drones|Muse|2016');
    });
    console.log(`     ${refused} refused connection attempts while the server was down`);
  });

  await check('the mutation hook shows a refused commit with its code, and Retry sends it again', async () => {
    await sql(`alter table album add constraint e2e_year_range check (year < 3000)`);
    await add(a, 'Far future', 'Nobody', 5000);
    await a.waitForSelector('[data-testid=add-status][data-status=error]');
    const said = await visibleText(a, '[data-testid=add-status] .error');
    if (!said.includes('constraint_violation')) throw new Error(`the add form says ${JSON.stringify(said)}`);
    await until('the refused row to leave the page', async () => !(await rows(a)).some((r) => r.startsWith('Far future|')));
    await sql(`alter table album drop constraint e2e_year_range`);
    await a.locator('[data-testid=add-status] button', { hasText: 'Retry' }).click();
    await a.waitForSelector('[data-testid=add-status][data-status=success]');
    await until('the retried row in SQL', async () => (await sql(`select count(*) from album where name = 'Far future' and year = 5000`)) === '1');
  });

  await check('two tabs offline and online: each sees the other at once, no commit is sent twice', async () => {
    const ctx = await browser.newContext({ viewport: { width: 900, height: 640 } });
    const frames = [];
    const t1 = await ctx.newPage();
    const t2 = await ctx.newPage();
    for (const [t, name] of [[t1, 'tab 1'], [t2, 'tab 2']]) {
      watchPage(t, name);
      recordCommits(t, frames);
      await t.goto(pageURL);
      await connected(t);
      await t.waitForSelector('[data-testid=status][data-status=live]');
    }
    await stopServer(server, 'SIGKILL');
    await Promise.all([t1, t2].map((t) => t.waitForSelector('[data-testid=connection]:not([data-status=connected])', { timeout: 15_000 })));
    await add(t1, 'Tab one', 'Muse', 2021);
    await until('tab 2 to show tab 1\'s add at once', async () => (await rows(t2)).includes('Tab one|Muse|2021'));
    await add(t2, 'Tab two', 'Muse', 2022);
    await until('tab 1 to show tab 2\'s add at once', async () => (await rows(t1)).includes('Tab two|Muse|2022'));
    await (await edit(t2, 'Tab one', { year: 2023 })).locator('button[type=submit]').click(); // builds on tab 1's pending commit
    await until('tab 1 to show tab 2\'s edit', async () => (await rows(t1)).includes('Tab one|Muse|2023'));
    // Tab 1 reloads while offline: its commit is taken over (by tab 2, or by its new page), not lost.
    await t1.reload();
    await t1.waitForSelector('[data-testid=status][data-status=cached]');
    if (frames.length > 0) throw new Error(`commits were sent while the server was down: ${JSON.stringify(frames)}`);
    server = await startServer(port);
    await until('both tabs and SQL to agree', async () => {
      const [r1, r2, rs] = await Promise.all([rows(t1), rows(t2), sqlRows()]);
      return same(r1, r2) && same(r1, rs) && r1.includes('Tab one|Muse|2023') && r1.includes('Tab two|Muse|2022');
    }, 30_000);
    const ids = frames.flat();
    if (frames.length !== 3 || new Set(ids).size !== ids.length) throw new Error(`commit frames: ${JSON.stringify(frames)}`);
    const counts = await sql(`select string_agg(name || '=' || n, ',' order by name) from (select name, count(*) n from album where name like 'Tab %' group by name) x`);
    if (counts !== 'Tab one=1,Tab two=1') throw new Error(`in SQL: ${counts}`);
    console.log(`     ${frames.length} commit frames from two tabs, each event sent once`);
    await ctx.close();
  });

  await a.screenshot({ path: path.join(out, 'albums.png'), fullPage: true });
  console.log(`     screenshot: ${path.relative(root, path.join(out, 'albums.png'))}`);
  if (pageErrors.length > 0) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
} catch (e) {
  failed = true;
  if (!String(e.message).startsWith('timed out')) console.log(e);
  await a?.screenshot({ path: path.join(out, 'failure-a.png'), fullPage: true }).catch(() => {});
  await b?.screenshot({ path: path.join(out, 'failure-b.png'), fullPage: true }).catch(() => {});
  console.log('     server log: test/e2e/out/server.log; failure screenshots in test/e2e/out/');
} finally {
  await browser.close();
  web.close();
  await stopServer(server, 'SIGTERM');
  serverLog.end();
}
console.log(failed ? 'e2e: FAIL' : 'e2e: PASS');
process.exit(failed ? 1 : 0);
