/**
 * The in-memory evaluator: binds a parsed query's arguments and compiles it
 * into a Matcher (match, compare, limit). A port of Go's query/bind.go and
 * eval.go, so that a client can tell which of its optimistic local changes
 * enter or leave a live query before the server says so.
 */
import { AnkurahError } from '../errors.js';
import type { JsonValue } from '../protocol.js';
import { compileLike, matchLike } from './like.js';
import type { Expr, Operand, Query } from './parse.js';
import { compareLiteral, compareSort, isIntLiteral, literal, resolve, type Item, type Literal, type Outcome, type Value } from './value.js';

/** What a query is evaluated against: get('id') is the entity id as text; absent fields are NULL. */
export interface Record {
  get(field: string): Value;
}

type Tri = true | false | null; // three-valued logic: null is unknown
type Pred = (r: Record) => Tri;

function not3(t: Tri): Tri {
  return t === null ? null : !t;
}

function badArgument(message: string): AnkurahError {
  return new AnkurahError('bad_argument', message);
}

/** A bound argument: a value, or a list (only valid in IN (?)). */
type Bound = Value | Value[];

/** Converts a wire (JSON) argument as the server does (protocol.ParseArgs). */
function argValue(a: JsonValue, n: number, inList = false): Bound {
  if (a === null) return { t: 'null' };
  if (typeof a === 'boolean') return { t: 'bool', b: a };
  if (typeof a === 'string') return { t: 'text', s: a };
  // A number with a fraction (or beyond 64 bits) is an exact numeric, as the server reads it.
  if (typeof a === 'number') return isIntLiteral(a) ? { t: 'int', n: a } : { t: 'num', s: String(a) };
  if (Array.isArray(a) && !inList) return a.map((x) => argValue(x, n, true) as Value);
  throw badArgument(`argument ${n}: ${Array.isArray(a) ? 'arrays may not nest' : 'an object cannot be a query argument'}`);
}

/** A compiled query. */
export interface Matcher {
  /** Reports whether the record satisfies the predicate (unknown is no match). */
  match(r: Record): boolean;
  /** Orders records by the sort keys, then by ascending id. */
  compare(a: Record, b: Record): number;
  /** The LIMIT, or null. */
  readonly limit: number | null;
}

/** Binds args (their JSON form, see argsToWire) to q's placeholders and compiles it. */
export function compile(q: Query, args: readonly JsonValue[] = []): Matcher {
  if (args.length !== q.params) {
    throw badArgument(`query has ${q.params} placeholders (?) but ${args.length} arguments were given`);
  }
  const bound = args.map((a, i) => argValue(a, i + 1));
  const scalar = (o: Operand): Value => {
    if (o.param === undefined) return o.value;
    const v = bound[o.param - 1]!;
    if (Array.isArray(v)) throw badArgument(`argument ${o.param} is a list; a list is only allowed as IN (?)`);
    return v;
  };
  const where = q.where ? compileExpr(q.where, scalar, bound) : null;
  const keys = q.orderBy.map((k) => ({ get: at(k.path), desc: k.desc }));
  let limit: number | null = null;
  if (q.limit) {
    const l = scalar(q.limit);
    if (l.t !== 'int' || l.n < 0) throw badArgument('LIMIT ? needs a non-negative integer');
    limit = l.n;
  }
  return {
    limit,
    match: (r) => where === null || where(r) === true,
    compare(a, b) {
      for (const k of keys) {
        const c = compareSort(k.get(a), k.get(b));
        if (c !== 0) return k.desc ? -c : c;
      }
      const ia = a.get('id');
      const ib = b.get('id');
      const sa = ia.t === 'text' ? ia.s : '';
      const sb = ib.t === 'text' ? ib.s : '';
      return sa < sb ? -1 : sa > sb ? 1 : 0; // ids are ASCII: code-unit order is byte order
    },
  };
}

/** What a path reads from a record: its field's value, through its JSON keys. */
function at(path: readonly string[]): (r: Record) => Item {
  const field = path[0]!;
  const keys = path.slice(1);
  return (r) => resolve(r.get(field), keys);
}

/** Turns a comparison outcome into a truth value; a mismatch is definitely unequal. */
function apply(op: string, o: Outcome): Tri {
  if (o === 'null') return null;
  if (o === 'mismatch') return op === '<>';
  switch (op) {
    case '=':
      return o === 0;
    case '<>':
      return o !== 0;
    case '<':
      return o < 0;
    case '<=':
      return o <= 0;
    case '>':
      return o > 0;
    default:
      return o >= 0;
  }
}

function compileExpr(e: Expr, scalar: (o: Operand) => Value, bound: readonly Bound[]): Pred {
  const sub = (x: Expr): Pred => compileExpr(x, scalar, bound);
  switch (e.k) {
    case 'bool': {
      const v = e.value;
      return () => v;
    }
    case 'and': {
      const terms = e.terms.map(sub);
      return (r) => {
        let res: Tri = true;
        for (const t of terms) {
          const v = t(r);
          if (v === false) return false;
          if (v === null) res = null;
        }
        return res;
      };
    }
    case 'or': {
      const terms = e.terms.map(sub);
      return (r) => {
        let res: Tri = false;
        for (const t of terms) {
          const v = t(r);
          if (v === true) return true;
          if (v === null) res = null;
        }
        return res;
      };
    }
    case 'not': {
      const x = sub(e.x);
      return (r) => not3(x(r));
    }
    case 'cmp': {
      const get = at(e.path);
      const l = literal(scalar(e.value));
      const op = e.op;
      return (r) => apply(op, compareLiteral(get(r), l));
    }
    case 'in': {
      const get = at(e.path);
      const lits: Literal[] = e.values.flatMap((o) => {
        if (o.param === undefined) return [literal(o.value)];
        const v = bound[o.param - 1]!;
        return (Array.isArray(v) ? v : [v]).map(literal);
      });
      const neg = e.not;
      return (r) => {
        const it = get(r);
        let res: Tri = false;
        for (const l of lits) {
          const t = apply('=', compareLiteral(it, l));
          if (t === true) {
            res = true;
            break;
          }
          if (t === null) res = null;
        }
        return neg ? not3(res) : res;
      };
    }
    case 'isnull': {
      const get = at(e.path);
      const neg = e.not;
      return (r) => (get(r).t === 'null') !== neg;
    }
    case 'between': {
      const get = at(e.path);
      const lo = literal(scalar(e.low));
      const hi = literal(scalar(e.high));
      const neg = e.not;
      return (r) => {
        const it = get(r);
        const a = apply('>=', compareLiteral(it, lo));
        const b = apply('<=', compareLiteral(it, hi));
        const res: Tri = a === false || b === false ? false : a === null || b === null ? null : true;
        return neg ? not3(res) : res;
      };
    }
    case 'like': {
      const get = at(e.path);
      const pat = scalar(e.pattern);
      if (pat.t !== 'text' && pat.t !== 'null') throw badArgument('LIKE needs a text pattern');
      const toks = pat.t === 'text' ? compileLike(pat.s) : [];
      if (toks === null) throw badArgument('LIKE pattern must not end with the escape character \\');
      const neg = e.not;
      return (r) => {
        const it = get(r);
        if (it.t === 'null' || pat.t === 'null') return null;
        // A char(n) matches with its padding, as Postgres's bpcharlike does.
        const res = (it.t === 'text' || it.t === 'char' || it.t === 'jstring') && matchLike(toks, it.s);
        return neg ? !res : res;
      };
    }
  }
}
