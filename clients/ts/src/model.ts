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

/** The TypeScript type of each field type. */
export interface FieldTypes {
  text: string;
  bigint: number;
  'double precision': number;
  boolean: boolean;
  bytea: Uint8Array;
  timestamptz: Date;
  jsonb: JsonValue;
  ref: EntityId;
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
  switch (type) {
    case 'text':
    case 'ref':
      return '';
    case 'bigint':
    case 'double precision':
      return 0;
    case 'boolean':
      return false;
    case 'bytea':
      return new Uint8Array(0);
    case 'timestamptz':
      return new Date(GO_ZERO_TIME);
    case 'jsonb':
      return null;
  }
}

/** Decodes one wire value into its TypeScript value. */
export function decodeField(spec: FieldSpec, v: JsonValue | undefined): unknown {
  if (v === null || v === undefined) return spec.nullable ? null : zero(spec.type);
  switch (spec.type) {
    case 'double precision':
      return typeof v === 'string' ? Number(v) : v; // "NaN", "Infinity", "-Infinity"
    case 'bytea':
      return hexToBytes(String(v));
    case 'timestamptz':
      return new Date(String(v));
  }
  return v;
}

/** Encodes a TypeScript value as the wire value of a field. */
export function encodeField(name: string, spec: FieldSpec, v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  const bad = (): never => {
    throw new AnkurahError(ClientCodes.usage, `field ${name} (${spec.type}) cannot hold ${typeof v === 'object' ? Object.prototype.toString.call(v) : JSON.stringify(v)}`);
  };
  switch (spec.type) {
    case 'text':
    case 'ref':
      return typeof v === 'string' ? v : bad();
    case 'bigint':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : bad();
    case 'double precision':
      if (typeof v !== 'number') return bad();
      return Number.isFinite(v) ? v : String(v);
    case 'boolean':
      return typeof v === 'boolean' ? v : bad();
    case 'bytea':
      return v instanceof Uint8Array ? '\\x' + bytesToHex(v) : bad();
    case 'timestamptz':
      return v instanceof Date && !Number.isNaN(v.getTime()) ? formatTime(v) : bad();
    case 'jsonb':
      return v as JsonValue;
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
