// The albums example in chromium against a real server and Postgres.
// Run by test/e2e/run.sh, which builds everything and sets TEST_DATABASE_URL
// (a throwaway cluster) and ANKURAH_BIN (the server binary).
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(here, 'out');
const dist = path.join(root, 'examples/albums/dist');
const db = need('TEST_DATABASE_URL');
const bin = need('ANKURAH_BIN');
mkdirSync(out, { recursive: true });

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run test/e2e/run.sh)`);
  return v;
}

// ── helpers ────────────────────────────────────────────────────────────────

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retries fn until it returns a truthy value; fails after ms with what it last saw. */
async function until(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

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

async function openPage(browser, url, name) {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Refused connections while the server is down are expected: count them.
    if (m.text().includes('ERR_CONNECTION_REFUSED')) refused++;
    else console.log(`  [${name} console] ${m.text()}`);
  });
  await page.goto(url);
  await connected(page);
  await page.waitForSelector('[data-testid=status][data-status=live]');
  return page;
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
  a = await openPage(browser, pageURL, 'page A');

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

  await check('the page recovers after the server restarts (crash, writes while down)', async () => {
    await stopServer(server, 'SIGKILL');
    await a.waitForSelector('[data-testid=connection]:not([data-status=connected])', { timeout: 15_000 });
    // While the server is down: a SQL write, and an edit on the page (shown at once, sent later).
    await sql(`insert into album (name, artist, year) values ('Black Holes and Revelations', 'Muse', 2006)`);
    await add(a, 'Drones', 'Muse', 2015);
    await until('the offline add on page A', async () => (await rows(a)).includes('Drones|Muse|2015'));
    // Let both pages fail a few reconnection attempts (backing off) before the server is back.
    const attempts = async (page) => Number(await page.getAttribute('[data-testid=connection]', 'data-attempt'));
    await until('both pages to fail reconnecting twice', async () => (await attempts(a)) >= 3 && (await attempts(b)) >= 3);
    const badge = await a.textContent('[data-testid=connection]');
    if (!/Reconnecting… \(attempt \d+/.test(badge ?? '')) throw new Error(`the connection indicator says ${JSON.stringify(badge)} while the server is down`);
    await a.screenshot({ path: path.join(out, 'albums-reconnecting.png'), fullPage: true });
    server = await startServer(port);
    await Promise.all([connected(a), connected(b)]);
    await until('both pages and SQL to agree after the restart', async () => {
      const [ra, rb, rs] = await Promise.all([rows(a), rows(b), sqlRows()]);
      return same(ra, rb) && same(ra, rs) && ra.includes('Drones|Muse|2015') && ra.includes('Black Holes and Revelations|Muse|2006');
    }, 30_000);
    // Live again, not just resynchronised: a SQL write after the restart reaches both pages.
    await sql(`update album set year = 2016 where name = 'Drones'`);
    await until('a SQL write after the restart on both pages', async () => {
      const [ra, rb] = await Promise.all([rows(a), rows(b)]);
      return ra.includes('Drones|Muse|2016') && rb.includes('Drones|Muse|2016');
    });
    console.log(`     ${refused} refused connection attempts while the server was down`);
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
