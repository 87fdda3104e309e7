/**
 * Field types: the canonical names the server uses (docs/types.md), parsed
 * into what the client needs to decode, encode and compare values. The
 * TypeScript twin of Go's value.ParseType for canonical names.
 */

/** How a field's values are held and compared. */
export type Kind =
  | 'text' // text, varchar, varchar(n)
  | 'ref'
  | 'char' // char(n), bpchar: trailing blanks do not count
  | 'int' // smallint, integer, bigint
  | 'float' // double precision
  | 'real'
  | 'num' // numeric, numeric(p,s): exact, as a decimal string
  | 'bool'
  | 'bytes'
  | 'time' // timestamptz
  | 'ts' // timestamp (without time zone)
  | 'date'
  | 'tod' // time (of day)
  | 'iv' // interval
  | 'uuid'
  | 'json' // json, jsonb
  | 'enum'
  | 'array';

export interface TypeInfo {
  readonly kind: Kind;
  /** An enum's labels, in declaration order (the order values compare in). */
  readonly labels?: readonly string[];
  /** An array's element type. */
  readonly elem?: TypeInfo;
}

const scalars: { [name: string]: Kind } = {
  text: 'text', varchar: 'text', ref: 'ref', bpchar: 'char', char: 'char', smallint: 'int', integer: 'int', bigint: 'int',
  'double precision': 'float', real: 'real', numeric: 'num', boolean: 'bool', bytea: 'bytes', timestamptz: 'time',
  timestamp: 'ts', date: 'date', time: 'tod', interval: 'iv', uuid: 'uuid', json: 'json', jsonb: 'json',
  ytext: 'text', // collaborative text: compared and shown as its text
};

const cache = new Map<string, TypeInfo | null>();

/**
 * Parses a canonical field type name ('numeric(10,2)', "enum('a', 'b')",
 * 'integer[]', …), or returns null for a name this client does not know.
 */
export function parseFieldType(name: string): TypeInfo | null {
  let t = cache.get(name);
  if (t === undefined) {
    t = parse(name);
    if (cache.size < 10_000) cache.set(name, t);
  }
  return t;
}

function parse(name: string): TypeInfo | null {
  if (name.endsWith('[]')) {
    if (name === 'ytext[]') return null;
    const elem = parse(name.slice(0, -2));
    return elem && elem.kind !== 'array' ? { kind: 'array', elem } : null;
  }
  if (name.startsWith('enum(') && name.endsWith(')')) {
    const labels = parseLabels(name.slice(5, -1));
    return labels ? { kind: 'enum', labels } : null;
  }
  const base = name.replace(/\(\d+(,-?\d+)?\)$/, '');
  const kind = scalars[base];
  return kind ? { kind } : null;
}

/** Reads 'a', 'b''s', … */
function parseLabels(s: string): string[] | null {
  const out: string[] = [];
  const label = /'((?:[^']|'')*)'(?:, *)?/y;
  while (label.lastIndex < s.length) {
    const m = label.exec(s);
    if (!m) return null;
    out.push(m[1]!.replace(/''/g, "'"));
  }
  return out.length > 0 ? out : null;
}

/**
 * Compares two decimal numbers given as text (JSON numbers, numeric
 * values: -?digits[.digits][e[+-]digits], or NaN, Infinity, -Infinity)
 * exactly, as Postgres compares numeric values: -Infinity < numbers <
 * Infinity < NaN.
 */
export function compareDecimal(a: string, b: string): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 1 || rb !== 1) return ra - rb;
  const x = normalize(a);
  const y = normalize(b);
  if (x.sign !== y.sign) return x.sign - y.sign;
  if (x.sign === 0) return 0;
  let c = 0;
  if (x.exp !== y.exp) c = x.exp < y.exp ? -1 : 1;
  else {
    const n = Math.max(x.digits.length, y.digits.length);
    const dx = x.digits.padEnd(n, '0');
    const dy = y.digits.padEnd(n, '0');
    c = dx < dy ? -1 : dx > dy ? 1 : 0;
  }
  return c * x.sign;
}

function rank(s: string): number {
  if (s === '-Infinity') return 0;
  if (s === 'Infinity') return 2;
  if (s === 'NaN') return 3;
  return 1;
}

/** A decimal as its sign, significant digits and the exponent of the first of them. */
function normalize(s: string): { sign: number; digits: string; exp: number } {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(s);
  if (!m) return { sign: 0, digits: '', exp: 0 };
  const [, sg = '', ip = '', fp = '', e = '0'] = m;
  const all = ip + fp;
  const lead = all.search(/[1-9]/);
  if (lead < 0) return { sign: 0, digits: '', exp: 0 };
  const digits = all.slice(lead).replace(/0+$/, '');
  return { sign: sg === '-' ? -1 : 1, digits, exp: ip.length - lead + Number(e) };
}

/** A numeric value's text: a decimal (exponent allowed), NaN or ±Infinity. */
export const NUMERIC_TEXT = /^(-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|NaN|-?Infinity)$/;

const DAY_US = 86_400_000_000n;

/**
 * Parses an interval in ISO 8601 as the server writes it (P1Y2M3DT4H5M6.5S,
 * each field with its own sign) into its span as Postgres compares
 * intervals: days (a month is 30) and the microseconds of the last day.
 */
export function intervalSpan(s: string): { days: number; rem: number } | null {
  const m = /^P(?:([-+]?\d+)Y)?(?:([-+]?\d+)M)?(?:([-+]?\d+)W)?(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?(?:([-+]?\d+)(?:\.(\d+))?S)?)?$/i.exec(s);
  if (!m || s === 'P' || /T$/i.test(s)) return null;
  const n = (i: number): bigint => BigInt(m[i] ?? '0');
  const months = n(1) * 12n + n(2);
  const days = n(3) * 7n + n(4);
  const secNeg = (m[7] ?? '').startsWith('-');
  const frac = BigInt(((m[8] ?? '') + '000000').slice(0, 6));
  const micros = ((n(5) * 60n + n(6)) * 60n + n(7)) * 1_000_000n + (secNeg ? -frac : frac);
  let q = micros / DAY_US;
  if (micros % DAY_US !== 0n && micros < 0n) q -= 1n;
  return { days: Number(months * 30n + days + q), rem: Number(micros - q * DAY_US) };
}

/** Parses a uuid in any form Postgres reads, to its canonical lowercase form. */
export function parseUUID(s: string): string | null {
  const p = s.startsWith('{') && s.endsWith('}') ? s.slice(1, -1) : s;
  if (!/^(?:[0-9a-f]{4}-?){7}[0-9a-f]{4}$/i.test(p)) return null;
  const hex = p.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const dateRe = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Checks YYYY-MM-DD (years minYear–9999) and returns it, or null. */
export function parseDate(s: string, minYear = 1): string | null {
  const m = dateRe.exec(s);
  if (!m) return null;
  const [, y, mo, d] = m;
  const t = new Date(0);
  t.setUTCFullYear(+y!, +mo! - 1, +d!);
  return +y! >= minYear && t.getUTCMonth() === +mo! - 1 && t.getUTCDate() === +d! ? s : null;
}

/** Parses HH:MM[:SS[.fraction]] to microseconds since midnight (24:00:00 allowed). */
export function parseClock(s: string): number | null {
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/.exec(s);
  if (!m) return null;
  const [, h, mi, sec = '0', frac = ''] = m;
  if (+mi! > 59 || +sec > 59) return null;
  const us = ((+h! * 60 + +mi!) * 60 + +sec) * 1e6 + +(frac + '000000').slice(0, 6);
  return us <= 86_400_000_000 ? us : null;
}
