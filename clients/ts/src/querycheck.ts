/**
 * Queries checked against their model: a field the model lacks is an error
 * when the query is made (code `unknown_field`), not a query that quietly
 * matches nothing. Twice: at run time by walking the parsed query, and at
 * compile time, for query texts that are string literals, by the type
 * `CheckedQuery` below.
 */
import { AnkurahError, ClientCodes } from './errors.js';
import type { Model } from './model.js';
import { parse, type Expr, type Query } from './query/parse.js';

/**
 * Parses a query and checks its fields against its model: the parsed query,
 * or null when it does not parse (a parse error is the server's to report).
 */
export function checkQuery(model: Model<object>, text: string): Query | null {
  let q: Query;
  try {
    q = parse(text);
  } catch {
    return null;
  }
  checkFields(model, q);
  return q;
}

/** Throws AnkurahError `unknown_field` (with `field` and `fields`) when q names a field the model lacks. */
export function checkFields(model: Model<object>, q: Query): void {
  const fields = Object.keys(model.fields);
  const check = (path: readonly string[]): void => {
    const f = path[0]!;
    if (f === 'id' || fields.includes(f)) return;
    throw new AnkurahError(
      ClientCodes.unknownField,
      `${model.collection} has no field ${JSON.stringify(f)}; its fields are id, ${fields.join(', ')}`,
      undefined,
      { field: f, fields: ['id', ...fields] },
    );
  };
  const walk = (e: Expr): void => {
    if (e.k === 'and' || e.k === 'or') e.terms.forEach(walk);
    else if (e.k === 'not') walk(e.x);
    else if (e.k !== 'bool') check(e.path);
  };
  if (q.where) walk(q.where);
  for (const k of q.orderBy) check(k.path);
}

// ── compile time ──────────────────────────────────────────────────────────
//
// A small tokenizer in the type system: string literals out, separators to
// spaces, dotted paths joined, then every word that is not a keyword, a
// number or a JSON key names a field. (A field named like a keyword — order,
// limit, desc — is not checked at compile time; the run-time check sees it.)
// A query typed as `string` (built at run time) is checked at run time only.

type Keyword = 'AND' | 'OR' | 'NOT' | 'IN' | 'IS' | 'NULL' | 'BETWEEN' | 'LIKE' | 'TRUE' | 'FALSE' | 'ORDER' | 'BY' | 'ASC' | 'DESC' | 'LIMIT';
type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
/**
 * Takes string literals and double-quoted names out of the text, left to
 * right (either may contain the other's quote): [rest, quoted field names].
 * A quoted name becomes the word 0, so that a JSON key after it stays
 * attached to something that is not checked; one after a '.' is a JSON key.
 */
type Scan<S extends string, Acc extends string = '', Ids extends string = never> = S extends `${infer A}'${infer R}`
  ? A extends `${infer A1}"${infer R1}`
    ? Quoted<A1, `${R1}'${R}`, Acc, Ids>
    : R extends `${string}'${infer B}`
      ? Scan<B, `${Acc}${A} `, Ids>
      : [`${Acc}${A}`, Ids]
  : S extends `${infer A1}"${infer R1}`
    ? Quoted<A1, R1, Acc, Ids>
    : [`${Acc}${S}`, Ids];
type Quoted<A extends string, R extends string, Acc extends string, Ids extends string> = R extends `${infer I}"${infer B}`
  ? Scan<B, `${Acc}${A}0`, A extends `${string}.` | `${string}. ` ? Ids : Ids | I>
  : [`${Acc}${A}`, Ids];
type Sp<S extends string, C extends string> = S extends `${infer A}${C}${infer B}` ? Sp<`${A} ${B}`, C> : S;
type Seps<S extends string> = Sp<Sp<Sp<Sp<Sp<Sp<Sp<Sp<Sp<Sp<Sp<S, '('>, ')'>, ','>, '='>, '<'>, '>'>, '!'>, '?'>, '\t'>, '\n'>, '\r'>;
type Dots<S extends string> = S extends `${infer A} .${infer B}` ? Dots<`${A}.${B}`> : S extends `${infer A}. ${infer B}` ? Dots<`${A}.${B}`> : S;
type Words<S extends string, Acc extends string = never> = S extends `${infer W} ${infer R}` ? Words<R, Acc | W> : Acc | S;
type FieldOf<W extends string> = W extends '' | `${Digit | '-' | '.' | '"'}${string}`
  ? never
  : Uppercase<W> extends Keyword
    ? never
    : W extends `${infer H}.${string}`
      ? H
      : W;
type Fields<T extends [string, string]> = FieldOf<Words<Dots<Seps<T[0]>>>> | T[1];

/** The field names a query text refers to. */
export type QueryFields<Q extends string> = Fields<Scan<Q>>;

/**
 * Q itself when every field it names is one of the model's (or `id`), and
 * otherwise a message type that TypeScript shows as the error:
 * `Argument of type '"yeer >= ?"' is not assignable to parameter of type
 * '"query names a field album lacks: yeer"'`.
 */
export type CheckedQuery<Q extends string, V extends object> = string extends Q
  ? Q
  : [Exclude<QueryFields<Q>, (keyof V & string) | 'id'>] extends [never]
    ? Q
    : `query names a field the model lacks: ${Exclude<QueryFields<Q>, (keyof V & string) | 'id'>}`;
