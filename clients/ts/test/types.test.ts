// Field types on the client: parsing the server's canonical names, and
// decoding and encoding each type's wire form (docs/types.md).
import { describe, expect, it } from 'vitest';
import { decodeField, encodeField, type FieldSpec } from '../src/model.js';
import type { FieldType, JsonValue } from '../src/protocol.js';
import { compareDecimal, intervalSpan, parseFieldType, parseUUID } from '../src/types.js';
import type { TypedValues } from './generated-typed.js';

describe('parseFieldType', () => {
  it.each([
    ['numeric(10,2)', { kind: 'num' }],
    ['varchar(5)', { kind: 'text' }],
    ['char(3)', { kind: 'char' }],
    ['timestamptz(3)', { kind: 'time' }],
    ["enum('sad', 'it''s ok')", { kind: 'enum', labels: ['sad', "it's ok"] }],
    ['integer[]', { kind: 'array', elem: { kind: 'int' } }],
    ["enum('a')[]", { kind: 'array', elem: { kind: 'enum', labels: ['a'] } }],
  ])('%s', (name, want) => {
    expect(parseFieldType(name)).toEqual(want);
  });
  it('refuses what the server never sends', () => {
    for (const bad of ['point', 'text[][]', "enum('a'", 'enum()']) expect(parseFieldType(bad)).toBeNull();
  });
});

describe('decimals, intervals, uuids', () => {
  it('compares decimals exactly', () => {
    expect(compareDecimal('12345678901234567890.5', '12345678901234567890.49')).toBe(1);
    expect(compareDecimal('1.50', '1.5')).toBe(0);
    expect(compareDecimal('1e3', '999.999')).toBe(1);
    expect(compareDecimal('-0.001', '0')).toBe(-1);
    expect(compareDecimal('NaN', 'Infinity')).toBe(1);
    expect(compareDecimal('-Infinity', '-1e300')).toBe(-1);
  });
  it('gives intervals Postgres spans', () => {
    expect(intervalSpan('P1M')).toEqual(intervalSpan('P30D'));
    expect(intervalSpan('P1D')).toEqual(intervalSpan('PT24H'));
    expect(intervalSpan('PT-0.5S')).toEqual({ days: -1, rem: 86_400_000_000 - 500_000 });
    expect(intervalSpan('1 day')).toBeNull();
  });
  it('reads uuids as Postgres does', () => {
    expect(parseUUID('{A0EEBC999C0B4EF8BB6D6BB9BD380A11}')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(parseUUID('a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(parseUUID('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1')).toBeNull();
  });
});

describe('model fields', () => {
  const cases: [FieldType, unknown, JsonValue][] = [
    ['numeric(10,2)', '1.50', '1.50'],
    ['numeric', 0.1, 0.1],
    ['smallint', 7, 7],
    ['real', 0.5, 0.5],
    ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['date', '2024-02-29', '2024-02-29'],
    ['time', '12:30:00', '12:30:00'],
    ['timestamp', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 500)), '2024-01-02T03:04:05.5'],
    ['interval', 'P1M', 'P1M'],
    ["enum('sad', 'ok')", 'ok', 'ok'],
    ['text[]', ['a', null], ['a', null]],
    ['numeric[]', ['1.5', 2], ['1.5', 2]],
    ['json', { a: [1] }, { a: [1] }],
  ];
  it.each(cases)('%s encodes %j', (type, v, wire) => {
    expect(encodeField('f', { type }, v)).toEqual(wire);
  });
  it('decodes numerics as exact strings and arrays element by element', () => {
    const spec = (type: FieldType): FieldSpec => ({ type, nullable: true });
    expect(decodeField(spec('numeric'), '12345678901234567890.12')).toBe('12345678901234567890.12');
    expect(decodeField(spec('numeric[]'), ['1.50', null])).toEqual(['1.50', null]);
    expect(decodeField(spec('real'), 'NaN')).toBeNaN();
    expect(decodeField({ type: 'interval' }, null)).toBe('PT0S');
    expect(decodeField({ type: 'integer[]' }, null)).toEqual([]);
  });
  it.each([
    ["enum('sad', 'ok')", 'meh'],
    ['uuid', 'nope'],
    ['numeric', '1,5'],
    ['integer[]', [1, 'x']],
    ['smallint', 1.5],
  ] as [FieldType, unknown][])('%s refuses %j', (type, v) => {
    expect(() => encodeField('f', { type }, v)).toThrow(/cannot hold/);
  });
});

describe('generated types (clients/ts/test/generated-typed.ts, from Go)', () => {
  it('decode and encode every field', async () => {
    const { Typed } = await import('./generated-typed.js');
    const values: TypedValues = {
      price: '1.50', exact: null, small: 7, ratio: 0.5, code: 'a  ', short: 'ab', key: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      born: '2024-02-29', opens: '24:00:00', local: '2024-01-02T03:04:05', span: 'P1M', mood: "it's ok", tags: ['a', null],
      moods: ['happy', null], counts: [1, null], decs: ['1.01'], notes: 'é😀', memo: '',
    };
    const fields = Typed.fields as unknown as Record<string, FieldSpec>;
    for (const [name, v] of Object.entries(values)) {
      const spec = fields[name]!;
      const wire = encodeField(name, spec, v);
      expect(decodeField(spec, wire)).toEqual(v);
    }
    expect(() => encodeField('mood', fields.mood!, 'meh')).toThrow(/cannot hold/);
    expect(decodeField(fields.small!, undefined)).toBe(0);
  });
});
