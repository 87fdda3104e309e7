/**
 * Adapts entity states to the query evaluator: typed values from wire
 * values, using the model's field types (and inferring the type of fields
 * the model does not declare).
 */
import type { Model, FieldSpec } from './model.js';
import type { Record as QueryRecord } from './query/eval.js';
import { fromWire, type Value } from './query/value.js';
import type { EntityState } from './store.js';

export function recordOf(model: Model<object>, state: EntityState): QueryRecord {
  const fields = model.fields as Record<string, FieldSpec | undefined>;
  return {
    get(field: string): Value {
      if (field === 'id') return { t: 'text', s: state.id };
      return fromWire(state.values[field], fields[field]?.type);
    },
  };
}
