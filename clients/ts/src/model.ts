/**
 * Models: what `ankurah gen ts` generates from the Go structs. A model names
 * its collection and types its fields; from it the client decodes wire
 * values into typed views and encodes typed values into operations.
 *
 * Field names are the collection's column names (`release_year`), the same
 * names queries and SQL use, so one name means one thing everywhere.
 */
import { AnkurahError, ClientCodes } from './errors.js';
import type { EntityId, FieldType, JsonValue, WireCollection, WireValues } from './protocol.js';
import { parseFieldType, parseUUID, type TypeInfo } from './types.js';

/** How a field is stored and whether NULL is a value of its TypeScript type. */
export interface FieldSpec {
  readonly type: FieldType;
  /**
   * NULL is `null` in TypeScript. Otherwise NULL reads as the type's zero
   * value ('' / 0 / false), as a Go model reads it: the generator marks
   * nullable exactly the fields whose Go zero value is written as NULL
   * (pointers, times, byte slices, refs, json).
   */
  readonly nullable?: boolean;
}

/**
 * The TypeScript type of each field type without modifiers (docs/types.md):
 * numeric is a string so that it stays exact; date, time, timestamp and
 * interval are their ISO text (a Date would invent a time zone); an enum is
 * its label; an array is an array of its element's type, with null for a
 * NULL element.
 */
export interface FieldTypes {
  text: string;
  bigint: number;
  'double precision': number;
  boolean: boolean;
  bytea: Uint8Array;
  timestamptz: Date;
  jsonb: JsonValue;
  ref: EntityId;
  smallint: number;
  integer: number;
  numeric: string;
  real: number;
  varchar: string;
  bpchar: string;
  uuid: string;
  date: string;
  time: string;
  timestamp: string;
  interval: string;
  json: JsonValue;
  /** Collaborative text: a view shows its text; edit it as a Y.Text (textOf, '@ankurah/client/text'). */
  ytext: string;
}

/** A model: a collection and its typed fields. V is the values interface (generated). */
export interface Model<V extends object = Record<string, unknown>> {
  readonly collection: string;
  readonly fields: { readonly [K in keyof V & string]: FieldSpec };
  /** Never set: carries V for type inference. */
  readonly __values?: V;
}

/** A read-only typed snapshot of an entity. */
export type View<V extends object> = Readonly<V> & { readonly id: EntityId };

/** An editable typed entity inside a transaction: assignments become operations. */
export type Mutable<V extends object> = V & { readonly id: EntityId };

/** The values interface of a model. */
export type ValuesOf<M> = M extends Model<infer V> ? V : never;

/** Declares a model (generated code calls this; hand-written models may too). */
export function defineModel<V extends object>(collection: string, fields: Model<V>['fields']): Model<V> {
  return Object.freeze({ collection, fields: Object.freeze({ ...fields }) });
}

/** The schema a model registers with the server. */
export function modelSchema(model: Model<object>): WireCollection {
  return {
    name: model.collection,
    fields: Object.entries(model.fields as Record<string, FieldSpec>).map(([name, f]) => ({ name, type: f.type })),
  };
}

/** Go's zero time (0001-01-01T00:00:00Z), the value of a NULL non-nullable time. */
const GO_ZERO_TIME = -62135596800000;

function zero(type: FieldType): unknown {
  const info = parseFieldType(type);
  switch (info?.kind) {
    case 'text':
    case 'ref':
    case 'char':
    case 'uuid':
    case 'enum':
    case 'num':
    case 'date':
    case 'tod':
    case 'ts':
      return '';
    case 'iv':
      return 'PT0S';
    case 'int':
    case 'float':
    case 'real':
      return 0;
    case 'bool':
      return false;
    case 'bytes':
      return new Uint8Array(0);
    case 'time':
      return new Date(GO_ZERO_TIME);
    case 'array':
      return [];
  }
  return null;
}

/** Decodes one wire value into its TypeScript value. */
export function decodeField(spec: FieldSpec, v: JsonValue | undefined): unknown {
  if (v === null || v === undefined) return spec.nullable ? null : zero(spec.type);
  return decodeValue(parseFieldType(spec.type), v);
}

function decodeValue(info: TypeInfo | null, v: JsonValue): unknown {
  if (v === null) return null;
  switch (info?.kind) {
    case 'float':
    case 'real':
      return typeof v === 'string' ? Number(v) : v; // "NaN", "Infinity", "-Infinity"
    case 'bytes':
      return hexToBytes(String(v));
    case 'time':
      return new Date(String(v));
    case 'num':
      return String(v); // a string on the wire; exact
    case 'array': {
      const elem = info.elem ?? null;
      return Array.isArray(v) ? v.map((e) => decodeValue(elem, e)) : v;
    }
  }
  return v;
}

/** Encodes a TypeScript value as the wire value of a field. */
export function encodeField(name: string, spec: FieldSpec, v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  const info = parseFieldType(spec.type);
  const out = info ? encodeValue(info, v) : undefined;
  if (out === undefined) {
    throw new AnkurahError(ClientCodes.usage, `field ${name} (${spec.type}) cannot hold ${typeof v === 'object' ? Object.prototype.toString.call(v) : JSON.stringify(v)}`);
  }
  return out;
}

/** A value's wire form for a field of type info, or undefined when it cannot hold it. */
function encodeValue(info: TypeInfo, v: unknown): JsonValue | undefined {
  if (v === null) return null;
  switch (info.kind) {
    case 'text':
    case 'ref':
    case 'char':
    case 'date':
    case 'tod':
    case 'iv':
      return typeof v === 'string' ? v : undefined;
    case 'uuid':
      return typeof v === 'string' && parseUUID(v) !== null ? v : undefined;
    case 'enum':
      return typeof v === 'string' && (info.labels ?? []).includes(v) ? v : undefined;
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
    case 'float':
    case 'real':
      if (typeof v !== 'number') return undefined;
      return Number.isFinite(v) ? v : String(v);
    case 'num':
      // A string keeps every digit; a number travels as its shortest form.
      if (typeof v === 'string') return /^(-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|NaN|-?Infinity)$/.test(v) ? v : undefined;
      return typeof v === 'number' ? (Number.isFinite(v) ? v : String(v)) : undefined;
    case 'bool':
      return typeof v === 'boolean' ? v : undefined;
    case 'bytes':
      return v instanceof Uint8Array ? '\\x' + bytesToHex(v) : undefined;
    case 'time':
      return v instanceof Date && !Number.isNaN(v.getTime()) ? formatTime(v) : undefined;
    case 'ts':
      // Text, or a Date whose UTC wall clock is the timestamp.
      if (typeof v === 'string') return v;
      return v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString().replace(/\.?0*Z$/, '') : undefined;
    case 'json':
      return v as JsonValue;
    case 'array': {
      if (!Array.isArray(v) || !info.elem) return undefined;
      const elem = info.elem;
      const out: JsonValue[] = [];
      for (const e of v) {
        const w = e === null || e === undefined ? null : encodeValue(elem, e);
        if (w === undefined) return undefined;
        out.push(w);
      }
      return out;
    }
  }
}

/** Writes a Date as the protocol's timestamptz text: RFC 3339 UTC with microseconds. */
export function formatTime(d: Date): string {
  return d.toISOString().replace('Z', '000Z');
}

function hexToBytes(s: string): Uint8Array {
  const hex = s.startsWith('\\x') ? s.slice(2) : s;
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Decodes an entity's wire values into the model's typed values (fields the model lacks are left out). */
export function decodeValues<V extends object>(model: Model<V>, values: WireValues): V {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(model.fields as Record<string, FieldSpec>)) {
    out[name] = decodeField(spec, values[name]);
  }
  return out as V;
}
