// The albums example with authentication, in chromium against a real server
// and Postgres: `ankurah serve` with an HS256 secret and the example's policy
// (examples/albums/policy.json: users read public albums and their own and
// write their own; admins do anything), pages signed in by pasting tokens
// minted with `ankurah token`. Run by test/e2e/run.sh after albums.mjs, on a
// database of its own (fresh: no album table).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
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
const policy = path.join(root, 'examples/albums/policy.json');
const bin = need('ANKURAH_BIN');
mkdirSync(out, { recursive: true });

const run = promisify(execFile);
// A database of its own, fresh.
const cluster = need('TEST_DATABASE_URL');
const dbName = 'albums_auth_e2e';
await sqlOn(cluster, `select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '${dbName}' and not active`);
await sqlOn(cluster, `drop database if exists ${dbName}`);
await sqlOn(cluster, `create database ${dbName}`);
const dbURL = new URL(cluster);
dbURL.pathname = `/${dbName}`;
const db = dbURL.toString();

async function sqlOn(url, query) {
  const { stdout } = await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-AtqX', '-c', query]);
  return stdout.trim();
}
const sql = (query) => sqlOn(db, query);

// The secret the server checks tokens with, and another one.
const secret = path.join(out, 'jwt-secret');
const otherSecret = path.join(out, 'jwt-secret-other');
writeFileSync(secret, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
writeFileSync(otherSecret, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });

/** `ankurah token --sub SUB --role ROLE`, as the README says. */
async function token(sub, role, { ttl = '1h', key = secret } = {}) {
  const { stdout } = await run(bin, ['token', '--jwt-secret-file', key, '--sub', sub, '--role', role, '--ttl', ttl]);
  return stdout.trim();
}

const serverLog = createWriteStream(path.join(out, 'server-auth.log'));

async function startServer(port) {
  // A clock skew of 1 s (30 s by default), so that a short token expires when it says.
  const args = ['serve', '--database-url', db, '--listen', `127.0.0.1:${port}`, '--jwt-secret-file', secret, '--policy', policy, '--jwt-clock-skew', '1s'];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.pipe(serverLog, { end: false });
  proc.stderr.pipe(serverLog, { end: false });
  let exited = null;
  proc.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  await until('the server to be ready', async () => {
    if (exited) throw new Error(`the server stopped: ${exited} (see test/e2e/out/server-auth.log)`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return res?.ok;
  }, 60_000);
  return proc;
}

function stopServer(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

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

/** A page in a browser context of its own: its own sessionStorage and IndexedDB, as another person's browser. */
async function newPage(name) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.log(`  [${name} console] ${m.text()}`));
  await page.goto(pageURL);
  return page;
}

/** Pastes a token into the sign-in form; waits until the server says whom the session acts for. */
async function signIn(page, tok, subject) {
  await page.locator('[data-testid=signin] input[name=token]').fill(tok);
  await page.locator('[data-testid=signin] button[type=submit]').click();
  await page.waitForSelector(`[data-testid=account][data-subject="${subject}"]`, { timeout: 30_000 });
  await page.waitForSelector('[data-testid=connection][data-status=connected]');
}

/** The rows on the page as "name|artist|year|owner|public", in page order. */
function rows(page) {
  return page.$$eval('[data-testid=album-row]:not(.editing)', (trs) =>
    trs.map((tr) =>
      [...tr.querySelectorAll('td.name, td.artist, td.year, td.owner')].map((td) => td.textContent).concat(tr.querySelector('td.public input').checked ? 'public' : 'private').join('|'),
    ),
  );
}

/** The rows in SQL that pass where, in the page's order and form. */
async function sqlRows(where) {
  const s = await sql(
    `select name || '|' || coalesce(artist, '') || '|' || case when year is null or year = 0 then '' else year::text end || '|' || coalesce(owner, '') || '|' || case when public then 'public' else 'private' end
     from album where ${where} order by year desc nulls first, name collate "C", id`,
  );
  return s === '' ? [] : s.split('\n');
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const row = (page, name) => page.locator('[data-testid=album-row]', { has: page.locator('td.name', { hasText: new RegExp(`^${name}$`) }) });

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
const pages = {};
try {
  await check('without a token, or with one the server cannot verify, the page asks to sign in and shows the code', async () => {
    const page = await newPage('nobody');
    const said = await page.waitForSelector('[data-testid=auth-error][data-code=unauthenticated]', { timeout: 30_000 });
    if (!(await said.innerText()).includes('needs you to sign in')) throw new Error(`the page says ${JSON.stringify(await said.innerText())}`);
    await page.waitForSelector('[data-testid=signin]');
    // A token signed with another secret: refused, said so.
    await page.locator('[data-testid=signin] input[name=token]').fill(await token('mallory', 'admin', { key: otherSecret }));
    await page.locator('[data-testid=signin] button[type=submit]').click();
    await page.waitForSelector('[data-testid=account][data-user=mallory]');
    const refused = await page.waitForSelector('[data-testid=auth-error][data-code=unauthenticated]', { timeout: 30_000 });
    if (!(await refused.innerText()).includes('refused your token')) throw new Error(`the page says ${JSON.stringify(await refused.innerText())}`);
    if ((await page.$$('[data-testid=album-row]')).length > 0) throw new Error('rows on a page the server refused');
    await page.screenshot({ path: path.join(out, 'albums-auth-refused.png'), fullPage: true });
    await page.close();
  });

  await check('a user cannot create the collection on a fresh database (permission_denied on the page, no table in SQL); the admin can', async () => {
    if ((await sql(`select to_regclass('album') is null`)) !== 't') throw new Error('the database is not fresh');
    const alice = await newPage('alice');
    await signIn(alice, await token('alice', 'user'), 'alice');
    await alice.waitForSelector('[data-testid=list-error][data-code=permission_denied]', { timeout: 30_000 });
    if ((await sql(`select to_regclass('album') is null`)) !== 't') throw new Error("alice's page created the table");
    const admin = await newPage('admin');
    await signIn(admin, await token('admin', 'admin'), 'admin');
    await admin.waitForSelector('[data-testid=status][data-status=live]');
    const cols = await sql(`select string_agg(column_name, ',' order by column_name) from information_schema.columns where table_name = 'album' and column_name in ('owner', 'public')`);
    if (cols !== 'owner,public') throw new Error(`album's columns: ${cols}`);
    await admin.close();
    await alice.reload();
    await alice.waitForSelector('[data-testid=status][data-status=live]', { timeout: 30_000 });
    pages.alice = alice;
  });

  // Rows written in SQL, checked there first: each user's page must show
  // exactly what the rule lets them read, and not the others'.
  const aliceRule = `public or owner = 'alice'`;
  const bobRule = `public or owner = 'bob'`;

  await check("two users see exactly what their rule allows: their own albums and the public ones, never another's private one", async () => {
    await sql(`insert into album (name, artist, year, owner, public) values
      ('Alice private', 'Muse', 2001, 'alice', false), ('Alice public', 'Muse', 2003, 'alice', true),
      ('Bob private', 'Blur', 1994, 'bob', false), ('Carol public', 'Pulp', 1995, 'carol', true), ('Nobody''s', 'Suede', 1993, null, null)`);
    const counts = await sql(`select string_agg(coalesce(owner, '-') || ':' || count, ',' order by owner) from (select owner, count(*) from album group by owner) x`);
    if (counts !== 'alice:2,bob:1,carol:1,-:1') throw new Error(`in SQL: ${counts}`);
    const bob = await newPage('bob');
    await signIn(bob, await token('bob', 'user'), 'bob');
    pages.bob = bob;
    const [wantA, wantB] = [await sqlRows(aliceRule), await sqlRows(bobRule)];
    if (wantA.length !== 3 || wantB.length !== 3) throw new Error(`SQL with the rules applied: alice ${JSON.stringify(wantA)}, bob ${JSON.stringify(wantB)}`);
    await until("alice's page to show her rows", async () => same(await rows(pages.alice), wantA));
    await until("bob's page to show his rows", async () => same(await rows(bob), wantB));
    const [ra, rb] = [await rows(pages.alice), await rows(bob)];
    if (ra.some((r) => r.startsWith('Bob private|') || r.startsWith("Nobody's|")) || rb.some((r) => r.startsWith('Alice private|'))) throw new Error(`a private album leaked: alice ${JSON.stringify(ra)}, bob ${JSON.stringify(rb)}`);
    const who = await pages.alice.textContent('[data-testid=user]');
    if (who !== 'alice') throw new Error(`alice's page says signed in as ${JSON.stringify(who)}`);
    console.log(`     alice: ${JSON.stringify(ra)}\n     bob:   ${JSON.stringify(rb)}`);
  });

  await check("alice adds an album (hers, private: bob does not see it), makes it public, and it appears on bob's page live", async () => {
    const { alice, bob } = pages;
    await bob.evaluate(() => (window.__notReloaded = true));
    const form = alice.locator('form.add');
    await form.locator('input[name=name]').fill('Absolution');
    await form.locator('input[name=artist]').fill('Muse');
    await form.locator('input[name=year]').fill('2003');
    await form.locator('button[type=submit]').click();
    await until('the album in SQL, owned and written by alice', async () =>
      (await sql(`select owner || ' ' || coalesce(public::text, 'null') || ' ' || (select string_agg(author, ',') from ankurah.events e where e.entity_id = a.id) from album a where name = 'Absolution'`)) === 'alice false alice',
    );
    await until("alice's page to agree with SQL", async () => same(await rows(alice), await sqlRows(aliceRule)));
    if ((await rows(bob)).some((r) => r.startsWith('Absolution|'))) throw new Error("bob sees alice's private album");
    await row(alice, 'Absolution').getByRole('checkbox', { name: 'Public: Absolution' }).check();
    await until('the album public in SQL', async () => (await sql(`select public from album where name = 'Absolution'`)) === 't');
    await until("the album on bob's page", async () => (await rows(bob)).includes('Absolution|Muse|2003|alice|public'));
    await until("bob's page to agree with SQL", async () => same(await rows(bob), await sqlRows(bobRule)));
    if (!(await bob.evaluate(() => window.__notReloaded))) throw new Error("bob's page was reloaded");
    await bob.screenshot({ path: path.join(out, 'albums-auth-bob.png'), fullPage: true });
  });

  await check("bob's edit of alice's album is refused: permission_denied on his page, the row back as it was, nothing in SQL; his own album goes through", async () => {
    const { bob } = pages;
    const before = await sql(`select name || '|' || year || '|' || (select count(*) from ankurah.events e where e.entity_id = a.id) from album a where name = 'Alice public'`);
    if (!before.startsWith('Alice public|2003|')) throw new Error(`in SQL before: ${before}`);
    await row(bob, 'Alice public').locator('td.name').dblclick();
    const form = bob.locator('tr.editing form');
    await form.locator('input[name=name]').fill('Hacked by bob');
    await form.locator('button[type=submit]').click();
    const said = await bob.waitForSelector('[data-testid=action-error][data-code=permission_denied]');
    console.log(`     ${JSON.stringify(await said.innerText())}`);
    await until("the refused edit to leave bob's page", async () => {
      const r = await rows(bob);
      return r.includes('Alice public|Muse|2003|alice|public') && !r.some((x) => x.startsWith('Hacked'));
    });
    // Bob's own album reaches SQL, authored by him: his writes do get through.
    const add = bob.locator('form.add');
    await add.locator('input[name=name]').fill('Parklife');
    await add.locator('input[name=artist]').fill('Blur');
    await add.locator('input[name=year]').fill('1994');
    await add.locator('button[type=submit]').click();
    await until("bob's album in SQL", async () => (await sql(`select count(*) from ankurah.events e join album a on a.id = e.entity_id where a.name = 'Parklife' and a.owner = 'bob' and e.author = 'bob'`)) === '1');
    const after = await sql(`select name || '|' || year || '|' || (select count(*) from ankurah.events e where e.entity_id = a.id) from album a where id = (select id from album where name = 'Alice public')`);
    if (after !== before) throw new Error(`alice's album changed in SQL: ${before} → ${after}`);
    const bobsOnAlice = await sql(`select count(*) from ankurah.events e join album a on a.id = e.entity_id where a.owner = 'alice' and e.author = 'bob'`);
    if (bobsOnAlice !== '0') throw new Error(`${bobsOnAlice} events by bob on alice's albums`);
    if ((await sql(`select count(*) from album where name like 'Hacked%'`)) !== '0') throw new Error('the refused name is in SQL');
  });

  await check('a token that expires: the page says so (token_expired); a new token pasted on the same page carries on live', async () => {
    const carol = await newPage('carol');
    await signIn(carol, await token('carol', 'user', { ttl: '10s' }), 'carol');
    await carol.waitForSelector('[data-testid=status][data-status=live]');
    await carol.evaluate(() => (window.__notReloaded = true));
    const expired = await carol.waitForSelector('[data-testid=auth-error][data-code=token_expired]', { timeout: 40_000 });
    const text = await expired.innerText();
    if (!text.includes('expired')) throw new Error(`the page says ${JSON.stringify(text)}`);
    await carol.screenshot({ path: path.join(out, 'albums-auth-expired.png'), fullPage: true });
    await signIn(carol, await token('carol', 'user'), 'carol');
    if (!(await carol.evaluate(() => window.__notReloaded))) throw new Error('the page was reloaded');
    await carol.waitForSelector('[data-testid=auth-error]', { state: 'detached' });
    // Live again: a SQL write after the new token reaches the page.
    await sql(`update album set year = 1996 where name = 'Carol public'`);
    await until("carol's page to show the SQL update", async () => (await rows(carol)).includes('Carol public|Pulp|1996|carol|public'));
    await until("carol's page to agree with SQL", async () => same(await rows(carol), await sqlRows(`public or owner = 'carol'`)));
    await carol.close();
  });

  await check('sign out: the page forgets the token and asks to sign in again', async () => {
    const { bob } = pages;
    await bob.getByRole('button', { name: 'Sign out' }).click();
    await bob.waitForSelector('[data-testid=account][data-user=""]');
    await bob.waitForSelector('[data-testid=auth-error][data-code=unauthenticated]', { timeout: 30_000 });
    if ((await bob.evaluate(() => sessionStorage.length)) !== 0) throw new Error('the token is still in sessionStorage');
  });

  await pages.alice.screenshot({ path: path.join(out, 'albums-auth-alice.png'), fullPage: true });
  if (pageErrors.length > 0) throw new Error(`errors in the page: ${pageErrors.join('; ')}`);
} catch (e) {
  failed = true;
  if (!String(e.message).startsWith('timed out')) console.log(e);
  for (const [name, p] of Object.entries(pages)) await p.screenshot({ path: path.join(out, `failure-auth-${name}.png`), fullPage: true }).catch(() => {});
  console.log('     server log: test/e2e/out/server-auth.log; failure screenshots in test/e2e/out/');
} finally {
  await browser.close();
  web.close();
  await stopServer(server);
  serverLog.end();
}
console.log(failed ? 'e2e auth: FAIL' : 'e2e auth: PASS');
process.exit(failed ? 1 : 0);
