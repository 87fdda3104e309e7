// The semantic cases of Go's query/semantics_test.go (docs/query-language.md),
// run through the TypeScript evaluator: each query with the ids it must
// return, in order. Cases that cannot travel over the wire (NaN, ±Infinity
// and bytea arguments) or that need integers beyond 2^53 are left out, and
// say so below.
import { describe, expect, it } from 'vitest';
import { argsToWire, type JsonValue, type QueryArg } from '../src/protocol.js';
import { compile, type Record } from '../src/query/eval.js';
import { parse } from '../src/query/parse.js';
import { fromWire, parseTime, type Value } from '../src/query/value.js';
import type { FieldType } from '../src/protocol.js';

const sid = (n: string): string => '01H000000000000000000000' + n;

const text = (s: string): Value => ({ t: 'text', s });
const int = (n: number): Value => ({ t: 'int', n });
const float = (n: number): Value => ({ t: 'float', n });
const bool = (b: boolean): Value => ({ t: 'bool', b });
const bytes = (hex: string): Value => ({ t: 'bytes', hex });
const json = (s: string): Value => ({ t: 'json', j: JSON.parse(s) as JsonValue });

const rows: { [field: string]: Value }[] = [
  { id: text(sid('R1')), name: text('Origin of Symmetry'), year: int(2001), score: float(9.5), ok: bool(true), blob: bytes('0001'),
    at: parseTime('2024-01-02T03:04:05Z')!, owner: text(sid('R2')),
    data: json('{"number":9,"text":"9","licensing":{"rights":{"holder":"Label A"}},"tags":["x"],"esc":"caf\\u00e9 \\"q\\""}') },
  { id: text(sid('R2')), name: text('OK Computer'), year: int(1997), score: float(10), ok: bool(false), blob: bytes('ff'),
    data: json('{"number":"9","text":"abc","n":10}') },
  { id: text(sid('R3')), name: text('Kid A'), year: int(2000), score: float(NaN), data: json('{"number":9.5,"n":9,"b":true}') },
  { id: text(sid('R4')) },
  { id: text(sid('R5')), name: text('kid a'), year: int(2000), score: float(-0), data: json('{"number":10,"text":null,"n":"10","b":false}') },
  { id: text(sid('R6')), name: text('Ωmega'), year: int(3), score: float(2), data: json('[1,2]') },
  { id: text(sid('R7')), name: text('a%b'), year: int(9007199254740993), score: float(Infinity), data: json('{"number":9.0,"dup":1,"dup":2,"n":1e2}') },
];

const records: Record[] = rows.map((r) => ({ get: (f: string) => r[f] ?? { t: 'null' } }));

const cases: [string, QueryArg[], string][] = [
  ['name = \'Kid A\'', [], 'R3'],
  ['name = 9', [], ''],
  ['name <> 9', [], 'R1 R2 R3 R5 R6 R7'],
  ["NOT (name = 'Kid A')", [], 'R1 R2 R5 R6 R7'],
  ["name > 'Z'", [], 'R5 R6 R7'],
  ['year IS NULL', [], 'R4'],
  ['missing IS NULL', [], 'R1 R2 R3 R4 R5 R6 R7'],
  ['missing = 1', [], ''],
  ['NOT (missing = 1)', [], ''],
  ['missing IS NOT NULL OR NOT (missing <> 1)', [], ''],
  ['year = 2000.0', [], 'R3 R5'],
  ['year > 1999.5', [], 'R1 R3 R5 R7'],
  ['year = 9007199254740993', [], 'R7'],
  // Left out: `year = 9007199254740992` and `year = 9007199254740992.0` are '' in Go (a decimal literal is an
  // exact numeric); JavaScript numbers cannot tell the row's …993 from …992.
  ['score = 10', [], 'R2'],
  ['score = 0', [], 'R5'],
  ['score > 9', [], 'R1 R2 R3 R7'],
  ['score < 100', [], 'R1 R2 R5 R6'],
  // Left out: NaN and ±Infinity arguments (JSON cannot carry them), bytea arguments.
  ['ok = TRUE', [], 'R1'],
  ['ok < TRUE', [], 'R2'],
  ['ok = 1', [], ''],
  ["at = '2024-01-02T03:04:05Z'", [], 'R1'],
  ["at = '2024-01-02T04:04:05+01:00'", [], 'R1'],
  ['at > ?', [new Date(Date.UTC(2024, 0, 1))], 'R1'],
  ["at = 'yesterday'", [], ''],
  ["at <> 'yesterday'", [], 'R1'],
  ['owner = ?', [sid('R2')], 'R1'],
  ['id = ?', [sid('R3')], 'R3'],
  ['id > ? ORDER BY id DESC', [sid('R5')], 'R7 R6'],
  ['id IN (?)', [[sid('R2'), sid('R6'), 'nope']], 'R2 R6'],
  ['data.number = 9', [], 'R1 R7'],
  ["data.number = '9'", [], 'R2'],
  ['data.number <> 9', [], 'R2 R3 R5'],
  ['data.number < 10', [], 'R1 R3 R7'],
  ['data.number BETWEEN 9 AND 9.5', [], 'R1 R3 R7'],
  ['data.n = 100', [], 'R7'],
  ['data.n IN (9, 10)', [], 'R2 R3'],
  ['data.text < 9', [], ''],
  ['NOT (data.text < 9)', [], 'R1 R2'],
  ['data.text IS NULL', [], 'R3 R4 R5 R6 R7'],
  ["data.licensing.rights.holder = 'Label A'", [], 'R1'],
  ['data.licensing.rights.holder.x IS NULL', [], 'R1 R2 R3 R4 R5 R6 R7'],
  ['data.dup = 2', [], 'R7'],
  ['data.tags IS NOT NULL', [], 'R1'],
  ["data.tags = 'x'", [], ''],
  ['data.b = TRUE', [], 'R3'],
  ['data.b < TRUE', [], 'R5'],
  ['data.esc = \'café "q"\'', [], 'R1'],
  ["data.esc LIKE 'caf_ %'", [], 'R1'],
  ['data = 5', [], ''],
  ['data IS NULL', [], 'R4'],
  ['name.x IS NULL', [], 'R1 R2 R3 R4 R5 R6 R7'],
  ["name LIKE 'K%'", [], 'R3'],
  ["name LIKE '%a'", [], 'R5 R6'],
  ["name LIKE '_mega'", [], 'R6'],
  ["name LIKE 'a\\%b'", [], 'R7'],
  ["name LIKE 'a\\_b'", [], ''],
  ["name NOT LIKE '%a%'", [], 'R1 R2 R3'],
  ["year LIKE '2%'", [], ''],
  ["NOT (year LIKE '2%')", [], 'R1 R2 R3 R5 R6 R7'],
  ["name IN ('Kid A', 'kid a', 5)", [], 'R3 R5'],
  ["name NOT IN ('Kid A', NULL)", [], ''],
  ['name IN (5)', [], ''],
  ['NOT (name IN (5))', [], 'R1 R2 R3 R5 R6 R7'],
  ['year IN (2000, 1997.0)', [], 'R2 R3 R5'],
  ['year IN (?)', [[]], ''],
  ['year NOT IN (?)', [[]], 'R1 R2 R3 R4 R5 R6 R7'],
  ['year BETWEEN 1997 AND 2000', [], 'R2 R3 R5'],
  ['year NOT BETWEEN 1997 AND 2000', [], 'R1 R6 R7'],
  ['ORDER BY name', [], 'R3 R2 R1 R7 R5 R6 R4'],
  ['ORDER BY name DESC', [], 'R4 R6 R5 R7 R1 R2 R3'],
  ['ORDER BY score', [], 'R5 R6 R1 R2 R7 R3 R4'],
  ['ORDER BY year DESC LIMIT 3', [], 'R4 R7 R1'],
  ['ORDER BY year, name DESC', [], 'R6 R2 R5 R3 R1 R7 R4'],
  ['ORDER BY data.number', [], 'R2 R1 R7 R3 R5 R4 R6'],
  ['ORDER BY data.number DESC', [], 'R4 R6 R5 R3 R1 R7 R2'],
  ['ORDER BY data', [], 'R6 R1 R2 R3 R5 R7 R4'],
  ['ORDER BY missing DESC, ok', [], 'R2 R1 R3 R4 R5 R6 R7'],
  ['year >= 2000 ORDER BY year DESC, id DESC LIMIT 2', [], 'R7 R1'],
  ['LIMIT 0', [], ''],
  ['', [], 'R1 R2 R3 R4 R5 R6 R7'],
  ['TRUE AND NOT FALSE', [], 'R1 R2 R3 R4 R5 R6 R7'],
];

function run(src: string, args: QueryArg[]): string {
  const m = compile(parse(src), argsToWire(args));
  let out = records.filter((r) => m.match(r));
  out.sort((a, b) => m.compare(a, b));
  if (m.limit !== null) out = out.slice(0, m.limit);
  return out.map((r) => (r.get('id') as { s: string }).s.slice(-2)).join(' ');
}

describe('query semantics (the cases of docs/query-language.md)', () => {
  it.each(cases)('%s %j', (src, args, want) => {
    expect(run(src, args)).toBe(want);
  });
});

describe('parser', () => {
  it('follows SQL precedence and flattens AND/OR chains', () => {
    expect(parse('a = 1 OR b = 2 AND c = 3').where).toMatchObject({ k: 'or', terms: [{ k: 'cmp' }, { k: 'and' }] });
    expect(parse('(a = 1 AND b = 2) AND c = 3').where).toMatchObject({ k: 'and', terms: [{}, {}, {}] });
    expect(parse('NOT a = 1').where).toMatchObject({ k: 'not', x: { k: 'cmp' } });
  });

  it('lets order and limit name fields', () => {
    expect(parse('order = 1 AND limit = 2 ORDER BY order DESC LIMIT 5')).toMatchObject({
      orderBy: [{ path: ['order'], desc: true }],
      limit: { value: { t: 'int', n: 5 } },
    });
  });

  it('reads quoted names, doubled quotes and negative numbers', () => {
    expect(parse(`"in" = 'it''s' AND data."Content-Type" = -7`).where).toMatchObject({
      k: 'and',
      terms: [
        { path: ['in'], value: { value: { s: "it's" } } },
        { path: ['data', 'Content-Type'], value: { value: { t: 'int', n: -7 } } },
      ],
    });
  });

  it.each([
    ['name =', 'expected a value'],
    ["name = 'x", 'unterminated string'],
    ['(a = 1', "expected ')'"],
    ['a = 1)', "unbalanced ')'"],
    ['a ~ 1', 'unexpected character'],
    ['a = 1e999999', 'out of range'],
    ['a = 1 LIMIT x', 'expected AND, OR, ORDER BY, LIMIT or end of query'],
  ])('refuses %j with a coded, positioned error', (src, msg) => {
    try {
      parse(src);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ name: 'AnkurahError', code: 'parse_error' });
      expect((e as Error).message).toContain(msg);
      expect(typeof (e as { offset: unknown }).offset).toBe('number');
    }
  });

  it('refuses hostile nesting quickly', () => {
    expect(() => parse('('.repeat(10_000) + 'a = 1' + ')'.repeat(10_000))).toThrow(/nest more than 64/);
    expect(() => parse('a = 1 OR '.repeat(10_000))).toThrow(/too_long|query is/);
  });

  it('checks arguments like the server', () => {
    expect(() => compile(parse('a = ?'), [])).toThrow(/1 placeholders/);
    expect(() => compile(parse('a = ?'), [[1, 2]])).toThrow(/only allowed as IN/);
    expect(() => compile(parse('a LIKE ?'), ['x\\'])).toThrow(/escape character/);
    expect(() => compile(parse('LIMIT ?'), [-1])).toThrow(/non-negative/);
  });
});

// The types beyond the first eight (docs/types.md), as fields of a model
// decode them from the wire: the evaluator compares each as Go does.
describe('every field type', () => {
  const types: { [field: string]: FieldType } = {
    num: 'numeric', price: 'numeric(10,2)', r: 'real', ch: 'char(3)', u: 'uuid', d: 'date', tod: 'time', ts: 'timestamp',
    iv: 'interval', mood: "enum('sad', 'ok', 'happy')", tags: 'text[]', nums: 'integer[]', small: 'smallint',
  };
  const wire: { [field: string]: JsonValue }[] = [
    { id: sid('T1'), num: '12345678901234567890.5', price: '1.50', r: 0.1, ch: 'a  ', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      d: '2024-01-02', tod: '12:30:00', ts: '2024-01-02T03:04:05.5', iv: 'P1M', mood: 'happy', tags: ['a', null], nums: [1, 2], small: 7 },
    { id: sid('T2'), num: '12345678901234567890.49', price: '2.00', r: 1.5, ch: 'b  ', u: '00000000-0000-0000-0000-000000000000',
      d: '1999-12-31', tod: '24:00:00', ts: '2024-01-02T03:04:05', iv: 'PT720H', mood: 'sad', tags: ['a'], nums: [1, null], small: -2 },
    { id: sid('T3'), num: 'NaN', mood: 'ok', iv: 'P29DT24H', tags: [], nums: [] },
  ];
  const recs: Record[] = wire.map((w) => ({
    get: (f: string) => (f === 'id' ? { t: 'text', s: w.id as string } : fromWire(w[f], types[f])),
  }));
  const q = (src: string, args: QueryArg[] = []): string => {
    const m = compile(parse(src), argsToWire(args));
    const out = recs.filter((r) => m.match(r));
    out.sort((a, b) => m.compare(a, b));
    return out.map((r) => (r.get('id') as { s: string }).s.slice(-2)).join(' ');
  };
  it.each([
    ['num > 12345678901234567890.49', [], 'T1 T3'], // exact (a double would call them equal); NaN is above all
    ['num = 12345678901234567890.50', [], 'T1'],
    ['num > ?', ['12345678901234567890'], 'T1 T2 T3'], // numeric text compares with numeric; NaN is above all
    ['price = 1.5', [], 'T1'],
    ['price = 2', [], 'T2'],
    ['r = 0.1', [], 'T1'], // a real compares at real precision
    ["ch = 'a'", [], 'T1'],
    ["ch LIKE 'a'", [], ''], // LIKE sees the padding
    ["u = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", [], 'T1'],
    ["d < '2000-01-01'", [], 'T2'],
    ["tod > '12:00'", [], 'T1 T2'],
    ["ts > '2024-01-02 03:04:05'", [], 'T1'],
    ["iv = 'P30D' ORDER BY id", [], 'T1 T2 T3'], // 1 mon = 30 days = 720 h = 29 days 24 h
    ["mood > 'ok' ORDER BY mood DESC", [], 'T1'],
    ['ORDER BY mood', [], 'T2 T3 T1'], // declaration order, not alphabetical
    ["mood = 'meh'", [], ''],
    ["tags = '{a,NULL}'", [], 'T1'],
    ["tags > '{a}' ORDER BY tags", [], 'T1'], // a NULL element is above every value
    ['ORDER BY nums', [], 'T3 T1 T2'],
    ['small IN (7, 8)', [], 'T1'],
  ] as [string, QueryArg[], string][])('%s %j', (src, args, want) => {
    expect(q(src, args)).toBe(want);
  });
});
