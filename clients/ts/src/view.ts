/**
 * Views: frozen, typed snapshots of entity states. One state object gives
 * one view object, so a view's identity changes exactly when the entity
 * does — which is what React's memoisation and the change sets of live
 * queries rely on.
 */
import { decodeValues, type Model, type View } from './model.js';
import type { EntityId, EventId, WireValues } from './protocol.js';
import type { EntityState } from './store.js';

/** What a view carries besides its typed fields. */
export interface ViewMeta {
  readonly id: EntityId;
  readonly collection: string;
  readonly head: readonly EventId[];
  /** The wire values, including fields the model does not declare. */
  readonly values: Readonly<WireValues>;
  /** The view shows local changes the server has not confirmed yet. */
  readonly pending: boolean;
}

const metas = new WeakMap<object, ViewMeta>();
const views = new WeakMap<EntityState, { model: Model<object>; view: object }>();

/** Returns the view of a state (the same object for the same state and model). */
export function viewOf<V extends object>(model: Model<V>, state: EntityState): View<V> {
  const hit = views.get(state);
  if (hit && hit.model === model) return hit.view as View<V>;
  const view = Object.freeze({ id: state.id, ...decodeValues(model, state.values) }) as View<V>;
  metas.set(view, { id: state.id, collection: state.collection, head: state.head, values: state.values, pending: state.pending });
  views.set(state, { model: model as Model<object>, view });
  return view;
}

/** Returns a view's head, raw values and pending flag. */
export function metaOf(view: object): ViewMeta {
  const m = metas.get(view);
  if (!m) throw new TypeError('not an Ankurah view');
  return m;
}

/** Reports whether a view shows a local change that the server has not confirmed yet. */
export function isPending(view: object): boolean {
  return metas.get(view)?.pending ?? false;
}
