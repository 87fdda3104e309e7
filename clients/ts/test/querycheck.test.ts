// Queries are checked against their model: at run time (code unknown_field,
// with the field and the model's fields) and, for literal query texts, at
// compile time (the @ts-expect-error lines fail `npm run typecheck` when the
// type check stops catching them, and so do false alarms on the good ones).
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { Client } from '../src/client.js';
import { AnkurahError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import type { CheckedQuery, QueryFields } from '../src/querycheck.js';
import { FakeServer } from './fake-server.js';
import { Album, type AlbumValues } from './models.js';

let clients: Client[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

function setup() {
  const server = new FakeServer();
  server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
  const client = new Client({ url: 'ws://fake/ws', webSocket: server.factory });
  clients.push(client);
  return { server, client };
}

function caught(fn: () => unknown): AnkurahError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AnkurahError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('query fields at run time', () => {
  it('refuses a live query naming a field the model lacks, before anything is sent', () => {
    const { server, client } = setup();
    const dynamic: string = 'yeer >= ?'; // built at run time: only the run-time check sees it
    const err = caught(() => client.query(Album, dynamic, [2000]));
    expect(err).toMatchObject({ code: 'unknown_field', field: 'yeer', fields: ['id', 'name', 'year', 'rating'] });
    expect(err.message).toBe('album has no field "yeer"; its fields are id, name, year, rating');
    expect(server.history).toHaveLength(1); // the connection, nothing more
  });

  it('checks every place a field can appear: comparisons, IN, IS NULL, BETWEEN, LIKE, NOT, ORDER BY, JSON paths', () => {
    const { client } = setup();
    const bad: [string, string][] = [
      ['name = 1 AND (year > 2 OR ratng = 3)', 'ratng'],
      ['NOT nme IN (1, 2)', 'nme'],
      ['x IS NULL', 'x'],
      ['year BETWEEN 1 AND 2 AND yr NOT BETWEEN 1 AND 2', 'yr'],
      ["title LIKE 'a%'", 'title'],
      ['ORDER BY year DESC, nam', 'nam'],
      ["meta.territory = 'US'", 'meta'],
      ['"Year" = 1', 'Year'],
    ];
    for (const [q, field] of bad) expect(caught(() => client.query(Album, q as string)), q).toMatchObject({ code: 'unknown_field', field });
    for (const q of ['', 'id = ?', "name LIKE 'O%' ORDER BY year DESC, id LIMIT 5", 'rating IS NOT NULL', '"year" > 1', 'TRUE']) {
      expect(() => client.query(Album, q as string, ['x'])).not.toThrow();
    }
  });

  it('leaves parse errors to the server, as before', async () => {
    const { client } = setup();
    const lq = client.query(Album, 'yeer >' as string);
    lq.subscribe(() => {});
    await expect.poll(() => lq.get().status).toBe('error');
    expect(lq.get().error).toMatchObject({ code: 'parse_error' });
  });

  it('refuses fetch and a query update the same way, keeping the old query', async () => {
    const { client } = setup();
    await expect(client.fetch(Album, 'artist = ?' as string, ['Muse'])).rejects.toMatchObject({ code: 'unknown_field', field: 'artist' });
    const lq = client.query(Album, 'year > 1');
    expect(caught(() => lq.update('yeer > 1' as string))).toMatchObject({ code: 'unknown_field' });
    expect(lq.query.text).toBe('year > 1');
  });
});

describe('query fields at compile time', () => {
  it('infers the fields a literal query names', () => {
    expectTypeOf<QueryFields<"name = 'it''s a yeer' AND (rating IS NOT NULL OR year BETWEEN 1 AND 2) ORDER BY year DESC LIMIT 3">>().toEqualTypeOf<'name' | 'rating' | 'year'>();
    expectTypeOf<QueryFields<'meta.territory = ? AND meta . x=-1.5 AND id IN (?,?)'>>().toEqualTypeOf<'meta' | 'id'>();
    expectTypeOf<QueryFields<'"release year" >= 2000 and "a b".c = 1 order by name asc'>>().toEqualTypeOf<'release year' | 'a b' | 'name'>();
    expectTypeOf<QueryFields<`name = 'say "hi"' AND "it's" = 1 AND\tmeta."k ey" = 2`>>().toEqualTypeOf<'name' | "it's" | 'meta'>();
    expectTypeOf<CheckedQuery<'yeer >= ?', AlbumValues>>().toEqualTypeOf<'query names a field the model lacks: yeer'>();
    expectTypeOf<CheckedQuery<string, AlbumValues>>().toEqualTypeOf<string>();
  });

  it('makes a misspelled literal query a type error in the client API', () => {
    const { client } = setup();
    const Tagged = defineModel<{ 'release year': number; meta: unknown }>('tagged', { 'release year': { type: 'bigint' }, meta: { type: 'jsonb' } });
    client.query(Album, 'year >= ? ORDER BY year DESC, name LIMIT 20', [2000]).close();
    client.query(Tagged, '"release year" >= 2000 AND meta.territory = ?', ['US']).close();
    // @ts-expect-error: yeer is not a field of Album
    expect(() => client.query(Album, 'yeer >= ?', [2000])).toThrow(AnkurahError);
    // @ts-expect-error: ORDER BY names a missing field
    expect(() => client.query(Album, 'year >= 1 ORDER BY nam')).toThrow(AnkurahError);
    const lq = client.query(Album, 'year > 1');
    // @ts-expect-error: update is checked too
    expect(() => lq.update('ratin > 1')).toThrow(AnkurahError);
    // @ts-expect-error: and fetch
    void client.fetch(Album, 'artist = ?', ['Muse']).catch(() => {});
  });
});
