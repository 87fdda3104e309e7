/**
 * Typed values for the in-memory evaluator, and how they compare. This is
 * the TypeScript twin of Go's query/compare.go; docs/query-language.md is
 * the one specification both follow.
 *
 * Known, documented differences from the Go evaluator (the server's answer
 * always replaces the client's guess, so they only ever affect optimistic
 * display): bigint values and JSON numbers are JavaScript numbers, exact
 * only up to 2^53; JSON numbers compare as doubles, not exact decimals.
 */
import type { FieldType, JsonValue } from '../protocol.js';

/** A field value as the evaluator sees it. `text` also carries refs and ids. */
export type Value =
  | { readonly t: 'null' }
  | { readonly t: 'text'; readonly s: string }
  | { readonly t: 'int'; readonly n: number }
  | { readonly t: 'float'; readonly n: number }
  | { readonly t: 'bool'; readonly b: boolean }
  | { readonly t: 'bytes'; readonly hex: string }
  | { readonly t: 'time'; readonly ms: number; readonly us: number }
  | { readonly t: 'json'; readonly j: JsonValue };

export const NULL: Value = { t: 'null' };

/** Type order for the rare in-memory mixture of types in one field (Go's value.Type order). */
const typeRank: Record<Value['t'], number> = { null: 0, text: 1, int: 2, float: 3, bool: 4, bytes: 5, time: 6, json: 7 };

/**
 * Returns the typed value of a wire (JSON) value for a field of the given
 * type; with no type (a field the model does not declare) the type is
 * inferred from the JSON.
 */
export function fromWire(v: JsonValue | undefined, type?: FieldType): Value {
  if (v === null || v === undefined) return NULL;
  switch (type) {
    case 'text':
    case 'ref':
      return typeof v === 'string' ? { t: 'text', s: v } : NULL;
    case 'bigint':
      return typeof v === 'number' ? { t: 'int', n: v } : NULL;
    case 'double precision':
      if (typeof v === 'number') return { t: 'float', n: v };
      if (v === 'NaN') return { t: 'float', n: NaN };
      if (v === 'Infinity') return { t: 'float', n: Infinity };
      if (v === '-Infinity') return { t: 'float', n: -Infinity };
      return NULL;
    case 'boolean':
      return typeof v === 'boolean' ? { t: 'bool', b: v } : NULL;
    case 'bytea':
      return typeof v === 'string' && v.startsWith('\\x') ? { t: 'bytes', hex: v.slice(2).toLowerCase() } : NULL;
    case 'timestamptz':
      return (typeof v === 'string' && parseTime(v)) || NULL;
    case 'jsonb':
      return { t: 'json', j: v };
  }
  switch (typeof v) {
    case 'string':
      return { t: 'text', s: v };
    case 'number':
      return isIntLiteral(v) ? { t: 'int', n: v } : { t: 'float', n: v };
    case 'boolean':
      return { t: 'bool', b: v };
  }
  return { t: 'json', j: v };
}

/**
 * Reports whether a JSON number arrives at the server as a bigint (Go's
 * ParseInt of its text succeeds): an integer below 2^63 in magnitude, which
 * JSON.stringify writes without a '.' or an exponent.
 */
export function isIntLiteral(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63;
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses RFC 3339 text (what Go's time.RFC3339Nano accepts) to an instant, truncated to microseconds. */
export function parseTime(s: string): Value | null {
  const m = rfc3339.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac = '', zone = 'Z'] = m;
  const date = new Date(0);
  date.setUTCFullYear(+y!, +mo! - 1, +d!);
  date.setUTCHours(+h!, +mi!, +sec!, 0);
  if (date.getUTCMonth() !== +mo! - 1 || date.getUTCDate() !== +d! || +h! > 23 || +mi! > 59 || +sec! > 59) return null;
  let ms = date.getTime();
  if (zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    ms -= sign * (+zone.slice(1, 3) * 60 + +zone.slice(4, 6)) * 60_000;
  }
  const micros = (frac + '000000').slice(0, 6);
  return { t: 'time', ms: ms + +micros.slice(0, 3), us: +micros.slice(3) };
}

/**
 * Compares text bytewise in UTF-8, which is code-point order (Postgres's C
 * collation). JavaScript's own string order is UTF-16 code units, which
 * puts U+E000–U+FFFF after astral characters; fix that at the first difference.
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

function fixup(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/** Orders floats as Postgres does: NaN equals NaN and sorts above +Infinity; -0 equals 0. */
export function compareFloat(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return compareBool(an, bn);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareBool(a: boolean, b: boolean): number {
  return a === b ? 0 : a ? 1 : -1;
}

function compareTime(a: { ms: number; us: number }, b: { ms: number; us: number }): number {
  return a.ms !== b.ms ? Math.sign(a.ms - b.ms) : Math.sign(a.us - b.us);
}

/**
 * An item is a field value seen through a path: a typed value, or a piece of
 * JSON with its kind. JSON null is NULL.
 */
export type Item =
  | Value
  | { readonly t: 'jstring'; readonly s: string }
  | { readonly t: 'jnumber'; readonly n: number }
  | { readonly t: 'jbool'; readonly b: boolean }
  | { readonly t: 'jarray' }
  | { readonly t: 'jobject' };

/** Resolves a JSON value found at the end of a path. */
export function jsonItem(j: JsonValue | undefined): Item {
  if (j === null || j === undefined) return NULL;
  if (typeof j === 'string') return { t: 'jstring', s: j };
  if (typeof j === 'number') return { t: 'jnumber', n: j };
  if (typeof j === 'boolean') return { t: 'jbool', b: j };
  return Array.isArray(j) ? { t: 'jarray' } : { t: 'jobject' };
}

/** Resolves a path: keys look into jsonb objects only; anything else is NULL. */
export function resolve(v: Value, keys: readonly string[]): Item {
  if (v.t === 'json') {
    let j: JsonValue | undefined = v.j;
    for (const k of keys) {
      if (j === null || typeof j !== 'object' || Array.isArray(j) || !Object.hasOwn(j, k)) return NULL;
      j = j[k];
    }
    return jsonItem(j);
  }
  return keys.length > 0 ? NULL : v;
}

/** A compiled literal: the value and, for text, the instant it names (if any). */
export interface Literal {
  readonly v: Value;
  readonly time: { ms: number; us: number } | null;
}

export function literal(v: Value): Literal {
  const t = v.t === 'text' ? parseTime(v.s) : null;
  return { v, time: t && t.t === 'time' ? t : null };
}

/** How an item relates to a literal: an order, unknown (NULL), or a type mismatch. */
export type Outcome = number | 'null' | 'mismatch';

/**
 * Compares an item with a literal. Types compare only within a family
 * (docs/query-language.md, "Comparisons are type-strict"); any other pairing
 * is a mismatch, which is a definite inequality.
 */
export function compareLiteral(it: Item, l: Literal): Outcome {
  const lv = l.v;
  if (it.t === 'null' || lv.t === 'null') return 'null';
  const numeric = lv.t === 'int' || lv.t === 'float';
  switch (it.t) {
    case 'text':
    case 'jstring':
      return lv.t === 'text' ? compareText(it.s, lv.s) : 'mismatch';
    case 'int':
      if (lv.t === 'int') return Math.sign(it.n - lv.n);
      return lv.t === 'float' ? compareFloat(it.n, lv.n) : 'mismatch';
    case 'float':
    case 'jnumber':
      return numeric ? compareFloat(it.n, lv.n) : 'mismatch';
    case 'bool':
    case 'jbool':
      return lv.t === 'bool' ? compareBool(it.b, lv.b) : 'mismatch';
    case 'time':
      return lv.t === 'text' && l.time ? compareTime(it, l.time) : 'mismatch';
  }
  return 'mismatch';
}

const jsonRank: Partial<Record<Item['t'], number>> = { jstring: 1, jnumber: 2, jbool: 3, jarray: 4, jobject: 5 };

/**
 * Orders two items for ORDER BY, ascending, NULLs last. Within a JSON path
 * the order is by kind first — string < number < boolean < array < object —
 * then by value (arrays equal each other, as do objects).
 */
export function compareSort(a: Item, b: Item): number {
  const an = a.t === 'null';
  const bn = b.t === 'null';
  if (an || bn) return compareBool(an, bn);
  const ra = jsonRank[a.t] ?? 0;
  const rb = jsonRank[b.t] ?? 0;
  if (ra !== 0 || rb !== 0) {
    if (ra !== rb) return ra - rb;
    if (a.t === 'jstring' && b.t === 'jstring') return compareText(a.s, b.s);
    if (a.t === 'jnumber' && b.t === 'jnumber') return compareFloat(a.n, b.n);
    if (a.t === 'jbool' && b.t === 'jbool') return compareBool(a.b, b.b);
    return 0;
  }
  if (a.t !== b.t) {
    // Only an in-memory mixture gets here: numbers together, else by type.
    if ((a.t === 'int' || a.t === 'float') && (b.t === 'int' || b.t === 'float')) return compareFloat(a.n, b.n);
    return typeRank[a.t as Value['t']] - typeRank[b.t as Value['t']];
  }
  switch (a.t) {
    case 'text':
      return compareText(a.s, (b as { s: string }).s);
    case 'bytes':
      return compareText(a.hex, (b as { hex: string }).hex);
    case 'int':
    case 'float':
      return compareFloat(a.n, (b as { n: number }).n);
    case 'bool':
      return compareBool(a.b, (b as { b: boolean }).b);
    case 'time':
      return compareTime(a, b as { ms: number; us: number });
  }
  return 0;
}
