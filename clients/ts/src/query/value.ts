/**
 * Typed values for the in-memory evaluator, and how they compare. This is
 * the TypeScript twin of Go's query/compare.go and typed.go;
 * docs/query-language.md and docs/types.md are the one specification both
 * follow.
 *
 * Known, documented differences from the Go evaluator (the server's answer
 * always replaces the client's guess, so they only ever affect optimistic
 * display): bigint values and JSON numbers are JavaScript numbers, exact
 * only up to 2^53 (numeric values are exact: they stay decimal text); a
 * number literal is rounded to a real through a double (Go rounds a
 * decimal once).
 */
import type { FieldType, JsonValue } from '../protocol.js';
import { compareDecimal, intervalSpan, NUMERIC_TEXT, parseClock, parseDate, parseFieldType, parseUUID, type TypeInfo } from '../types.js';

/** A field value as the evaluator sees it. `text` also carries refs and ids. */
export type Value =
  | { readonly t: 'null' }
  | { readonly t: 'text'; readonly s: string }
  | { readonly t: 'char'; readonly s: string } // char(n): trailing blanks do not count
  | { readonly t: 'int'; readonly n: number }
  | { readonly t: 'float'; readonly n: number }
  | { readonly t: 'real'; readonly n: number }
  | { readonly t: 'num'; readonly s: string } // numeric, and decimal literals: exact decimal text
  | { readonly t: 'bool'; readonly b: boolean }
  | { readonly t: 'bytes'; readonly hex: string }
  | { readonly t: 'time'; readonly ms: number; readonly us: number } // timestamptz: an instant
  | { readonly t: 'ts'; readonly ms: number; readonly us: number } // timestamp: a wall clock, read as UTC
  | { readonly t: 'date'; readonly s: string } // YYYY-MM-DD
  | { readonly t: 'tod'; readonly us: number } // time of day, in microseconds
  | { readonly t: 'iv'; readonly days: number; readonly rem: number } // interval: its span (see intervalSpan)
  | { readonly t: 'uuid'; readonly s: string } // canonical lowercase
  | { readonly t: 'enum'; readonly s: string; readonly ord: number; readonly labels: readonly string[] }
  | { readonly t: 'arr'; readonly elems: readonly Value[]; readonly elem: TypeInfo }
  | { readonly t: 'json'; readonly j: JsonValue };

export const NULL: Value = { t: 'null' };

/** Type order for the rare in-memory mixture of types in one field (Go's value.Type order). */
const typeRank: Record<Value['t'], number> = {
  null: 0, text: 1, int: 2, float: 3, bool: 4, bytes: 5, time: 6, json: 7, num: 9, real: 10, uuid: 11, date: 12, tod: 13,
  ts: 14, iv: 15, char: 16, enum: 17, arr: 18,
};

/**
 * Returns the typed value of a wire (JSON) value for a field of the given
 * type; with no type (a field the model does not declare) the type is
 * inferred from the JSON.
 */
export function fromWire(v: JsonValue | undefined, type?: FieldType): Value {
  if (v === null || v === undefined) return NULL;
  const info = type === undefined ? null : parseFieldType(type);
  if (info) return typed(v, info);
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

/** The value of JSON v for a field of type info (NULL when v is not of that type). */
export function typed(v: JsonValue, info: TypeInfo): Value {
  if (v === null) return NULL;
  if (info.kind === 'json') return { t: 'json', j: v };
  if (info.kind === 'array') {
    if (!Array.isArray(v) || !info.elem) return NULL;
    const elem = info.elem;
    return { t: 'arr', elems: v.map((e) => typed(e, elem)), elem };
  }
  switch (typeof v) {
    case 'number':
      switch (info.kind) {
        case 'int':
        case 'float':
          return { t: info.kind, n: v };
        case 'real':
          return { t: 'real', n: Math.fround(v) }; // the float4 its shortest text stands for
        case 'num':
          return { t: 'num', s: String(v) };
      }
      return NULL;
    case 'boolean':
      return info.kind === 'bool' ? { t: 'bool', b: v } : NULL;
    case 'string':
      return fromText(v, info) ?? NULL;
  }
  return NULL;
}

/** The value a string stands for in a field of type info, or null. */
export function fromText(s: string, info: TypeInfo): Value | null {
  switch (info.kind) {
    case 'text':
    case 'ref':
      return { t: 'text', s };
    case 'char':
      return { t: 'char', s };
    case 'float':
    case 'real':
      // Only the special values are text; other numbers are JSON numbers.
      return ['NaN', 'Infinity', '-Infinity'].includes(s) ? { t: info.kind, n: Number(s) } : null;
    case 'num':
      return NUMERIC_TEXT.test(s) ? { t: 'num', s } : null;
    case 'bytes':
      return s.startsWith('\\x') ? { t: 'bytes', hex: s.slice(2).toLowerCase() } : null;
    case 'time':
      return parseTime(s);
    case 'ts':
      return parseTimestamp(s);
    case 'date':
      return parseDate(s) === null ? null : { t: 'date', s };
    case 'tod': {
      const us = parseClock(s);
      return us === null ? null : { t: 'tod', us };
    }
    case 'iv': {
      const sp = intervalSpan(s);
      return sp === null ? null : { t: 'iv', ...sp };
    }
    case 'uuid': {
      const u = parseUUID(s);
      return u === null ? null : { t: 'uuid', s: u };
    }
    case 'enum': {
      const labels = info.labels ?? [];
      const ord = labels.indexOf(s);
      return ord < 0 ? null : { t: 'enum', s, ord, labels };
    }
    case 'array':
      return info.elem ? parseArrayText(s, info.elem) : null;
  }
  return null;
}

/**
 * Reports whether a JSON number arrives at the server as a bigint (Go's
 * ParseInt of its text succeeds): an integer below 2^63 in magnitude, which
 * JSON.stringify writes without a '.' or an exponent.
 */
export function isIntLiteral(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63;
}

/** Parses RFC 3339 text (what Go's time.RFC3339Nano accepts) to an instant, truncated to microseconds. */
export function parseTime(s: string): Value | null {
  const ts = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(s) && parseTimestamp(s, 0);
  return ts ? { ...ts, t: 'time' } : null;
}

/**
 * Parses a timestamp without time zone: YYYY-MM-DD, 'T' or a space, a
 * clock; with an RFC 3339 offset it is converted to UTC. (Years from
 * minYear: Postgres's start at 1, Go's times at 0.)
 */
export function parseTimestamp(s: string, minYear = 1): { t: 'ts'; ms: number; us: number } | null {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?$/i.exec(s);
  if (!m || parseDate(m[1]!, minYear) === null) return null;
  const us = parseClock(m[2]!);
  if (us === null || us >= 86_400_000_000) return null;
  let ms = Date.parse(m[1]! + 'T00:00:00Z') + Math.floor(us / 1000);
  if (m[3] && m[3].toUpperCase() !== 'Z') {
    const sign = m[3][0] === '-' ? -1 : 1;
    ms -= sign * (+m[3].slice(1, 3) * 60 + +m[3].slice(4, 6)) * 60_000;
  }
  return { t: 'ts', ms, us: us % 1000 };
}

/** Parses a one-dimensional Postgres array literal ({a,"b c",NULL}) of an element type. */
export function parseArrayText(s: string, elem: TypeInfo): Value | null {
  let p = s;
  if (p.startsWith('[')) {
    const i = p.indexOf('=');
    if (i < 0) return null;
    p = p.slice(i + 1);
  }
  if (!p.startsWith('{') || !p.endsWith('}')) return null;
  const body = p.slice(1, -1);
  const elems: Value[] = [];
  if (body.trim() === '') return { t: 'arr', elems, elem };
  // An element: "quoted" (a backslash escapes the next character) or bare
  // (no quotes or braces; backslashes escape too; trailing blanks do not
  // count), then a comma or the end.
  const element = /\s*(?:"((?:[^"\\]|\\[^])*)"|((?:[^,"{}\\]|\\(?:[^]|$))*))\s*(,|$)/y;
  for (;;) {
    const m = element.exec(body);
    if (!m) return null;
    const [, quoted, bare = '', sep] = m;
    const unescape = (t: string): string => t.replace(/\\([^]?)/g, '$1');
    let v: Value | null;
    if (quoted !== undefined) v = elemFromText(unescape(quoted), elem);
    else {
      const text = unescape(bare).trimEnd();
      if (text === '') return null;
      v = !bare.includes('\\') && text.toUpperCase() === 'NULL' ? NULL : elemFromText(text, elem);
    }
    if (v === null) return null;
    elems.push(v);
    if (sep === '') return { t: 'arr', elems, elem };
  }
}

/** An array element's value from its text (Postgres's output, which for numbers is not JSON). */
function elemFromText(s: string, info: TypeInfo): Value | null {
  switch (info.kind) {
    case 'int':
      return /^-?\d+$/.test(s) ? { t: 'int', n: Number(s) } : null;
    case 'float':
    case 'real': {
      const n = Number(s);
      return s !== '' && !Number.isNaN(n) ? { t: info.kind, n } : fromText(s, info);
    }
    case 'bool':
      return s === 't' || s === 'true' ? { t: 'bool', b: true } : s === 'f' || s === 'false' ? { t: 'bool', b: false } : null;
    case 'json':
      try {
        return { t: 'json', j: JSON.parse(s) as JsonValue };
      } catch {
        return null;
      }
  }
  return fromText(s, info);
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

const rtrim = (s: string): string => s.replace(/ +$/, '');

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

/** A compiled literal: the value and, for text, what else it stands for. */
export interface Literal {
  readonly v: Value;
  /** Text: its readings as an instant, a timestamp, date, time of day, interval, uuid, numeric (those it parses as). */
  readonly alts: { readonly [k in Value['t']]?: Value };
}

const altKinds: readonly TypeInfo[] = (['ts', 'date', 'tod', 'iv', 'uuid', 'num'] as const).map((kind) => ({ kind }));

export function literal(v: Value): Literal {
  const alts: { [k in Value['t']]?: Value } = {};
  if (v.t === 'text') {
    const t = parseTime(v.s);
    if (t) alts.time = t;
    for (const info of v.s.length <= 200 ? altKinds : []) {
      const a = fromText(v.s, info);
      if (a) alts[a.t] = a;
    }
  }
  return { v, alts };
}

/** How an item relates to a literal: an order, unknown (NULL), or a type mismatch. */
export type Outcome = number | 'null' | 'mismatch';

const isNumber = (v: Value): v is Extract<Value, { t: 'int' | 'float' | 'real' }> | Extract<Value, { t: 'num' }> =>
  v.t === 'int' || v.t === 'float' || v.t === 'real' || v.t === 'num';

const isTime = (v: Value): boolean => v.t === 'time' || v.t === 'ts';

/** A number as a double. */
const asFloat = (v: Value): number => (v.t === 'num' ? Number(v.s) : v.t === 'int' || v.t === 'float' || v.t === 'real' ? v.n : NaN);

/** A number as decimal text (a double's shortest form). */
const asDecimal = (v: Value): string => (v.t === 'num' ? v.s : String(asFloat(v)));

/**
 * Compares an item with a literal. Types compare only within a family
 * (docs/query-language.md, "Comparisons are type-strict"); any other pairing
 * is a mismatch, which is a definite inequality.
 */
export function compareLiteral(it: Item, l: Literal): Outcome {
  const lv = l.v;
  if (it.t === 'null' || lv.t === 'null') return 'null';
  switch (it.t) {
    case 'jstring':
      return lv.t === 'text' ? compareText(it.s, lv.s) : 'mismatch';
    case 'jnumber':
      return isNumber(lv) ? compareDecimal(String(it.n), asDecimal(lv)) : 'mismatch';
    case 'jbool':
      return lv.t === 'bool' ? compareBool(it.b, lv.b) : 'mismatch';
    case 'jarray':
    case 'jobject':
    case 'json':
      return 'mismatch';
    case 'int':
    case 'float':
    case 'num':
      if (it.t === 'int' && lv.t === 'num') return compareDecimal(String(it.n), lv.s);
      if (isNumber(lv)) return cmpSame(it, lv);
      break; // a numeric compares with text in its form too
    case 'real':
      // A real compares at real precision: the literal rounded to a real.
      return isNumber(lv) ? compareFloat(it.n, Math.fround(asFloat(lv))) : 'mismatch';
    case 'text':
      if (lv.t === 'char') return compareText(it.s, rtrim(lv.s));
      break;
    case 'char':
      if (lv.t === 'text') return cmpSame(it, lv);
      break;
    case 'enum': {
      // By declaration order; text that is no label is another type.
      if (lv.t !== 'text' && lv.t !== 'enum') return 'mismatch';
      const ord = it.labels.indexOf(lv.s);
      return ord < 0 ? 'mismatch' : Math.sign(it.ord - ord);
    }
    case 'arr': {
      if (it.elem.kind === 'json') return 'mismatch'; // arrays of json do not compare
      const other = lv.t === 'arr' ? lv : lv.t === 'text' ? parseArrayText(lv.s, it.elem) : null;
      return other && other.t === 'arr' ? cmpSame(it, other) : 'mismatch';
    }
  }
  // The remaining kinds compare with a value of their own kind (an instant
  // and a timestamp with each other), or with text in their form.
  const same = lv.t === it.t || (isTime(it) && isTime(lv)) ? lv : lv.t === 'text' ? l.alts[it.t] : undefined;
  return same ? cmpSame(it, same) : 'mismatch';
}

/** Orders two non-NULL values of one kind. */
function cmpSame(a: Value, b: Value): number {
  switch (a.t) {
    case 'text':
    case 'date':
    case 'uuid':
      return compareText(a.s, (b as { s: string }).s);
    case 'char':
      return compareText(rtrim(a.s), rtrim((b as { s: string }).s));
    case 'int':
    case 'float':
    case 'real':
      return compareFloat(a.n, asFloat(b));
    case 'num':
      return compareDecimal(a.s, asDecimal(b));
    case 'bool':
      return compareBool(a.b, (b as { b: boolean }).b);
    case 'bytes':
      return compareText(a.hex, (b as { hex: string }).hex);
    case 'time':
    case 'ts':
      return compareTime(a, b as { ms: number; us: number });
    case 'tod':
      return Math.sign(a.us - (b as { us: number }).us);
    case 'iv': {
      const o = b as { days: number; rem: number };
      return a.days !== o.days ? Math.sign(a.days - o.days) : Math.sign(a.rem - o.rem);
    }
    case 'enum':
      return Math.sign(a.ord - (b as { ord: number }).ord);
    case 'arr': {
      const o = (b as { elems: readonly Value[] }).elems;
      for (let i = 0; i < a.elems.length && i < o.length; i++) {
        const x = a.elems[i]!;
        const y = o[i]!;
        const xn = x.t === 'null';
        const yn = y.t === 'null';
        if (xn || yn) {
          const c = compareBool(xn, yn);
          if (c !== 0) return c;
          continue;
        }
        const c = cmpSame(x, y);
        if (c !== 0) return c;
      }
      return Math.sign(a.elems.length - o.length);
    }
  }
  return 0;
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
    // Two JSON items of one kind (arrays equal each other, as do objects).
    switch (a.t) {
      case 'jstring':
        return compareText(a.s, (b as typeof a).s);
      case 'jnumber':
        return compareFloat(a.n, (b as typeof a).n);
      case 'jbool':
        return compareBool(a.b, (b as typeof a).b);
    }
    return 0;
  }
  const va = a as Value;
  const vb = b as Value;
  if (va.t !== vb.t) {
    // Only an in-memory mixture gets here: numbers together, else by type.
    if (isNumber(va) && isNumber(vb)) return compareFloat(asFloat(va), asFloat(vb));
    return typeRank[va.t] - typeRank[vb.t];
  }
  if (va.t === 'json') return 0;
  if (va.t === 'arr' && va.elem.kind === 'json') return 0; // arrays of json do not order
  return cmpSame(va, vb);
}
