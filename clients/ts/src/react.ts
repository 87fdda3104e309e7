/**
 * React bindings, all on useSyncExternalStore so that concurrent rendering
 * never tears:
 *
 *     <AnkurahProvider client={client}><App /></AnkurahProvider>
 *     const { rows, status } = useLiveQuery(Album, 'year >= ? ORDER BY year', [2000]);
 *     const album = useEntity(Album, id);       // undefined while loading, null if absent
 *     const { status } = useConnectionState();
 */
import { createContext, createElement, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { Client } from './client.js';
import type { ConnectionState } from './connection.js';
import type { LiveQuery, LiveQuerySnapshot } from './livequery.js';
import type { Model, View } from './model.js';
import type { EntityId, QueryArg } from './protocol.js';
import type { ReadSignal } from './signal.js';

const ClientContext = createContext<Client | null>(null);

/** Makes a client available to the hooks below it. */
export function AnkurahProvider(props: { client: Client; children?: ReactNode }): ReactNode {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

/** The client of the nearest AnkurahProvider. */
export function useClient(): Client {
  const c = useContext(ClientContext);
  if (!c) throw new Error('useClient: no <AnkurahProvider client={…}> above this component');
  return c;
}

/** The current value of any signal; re-renders when it changes. */
export function useSignal<T>(s: ReadSignal<T>): T {
  return useSyncExternalStore(
    (onChange) => s.subscribe(onChange),
    () => s.peek(),
    () => s.peek(),
  );
}

/** The connection's state: status ('connecting' | 'connected' | 'reconnecting' | 'closed'), attempt, error, retryAt. */
export function useConnectionState(): ConnectionState {
  return useSignal(useClient().state);
}

/**
 * A live query's rows, status and error. The subscription lives as long as
 * the component; changing the query or its arguments moves the same live
 * query to the new selection (entities already held are not sent again),
 * keeping the previous rows on screen until the new ones arrive.
 */
export function useLiveQuery<V extends object>(model: Model<V>, query = '', args: readonly QueryArg[] = []): LiveQuerySnapshot<V> {
  const client = useClient();
  const [lq] = useState(() => client.query(model, query, args));
  useEffect(() => lq.update(query, args), [lq, query, JSON.stringify(args)]); // eslint-disable-line react-hooks/exhaustive-deps
  return useSignal(lq);
}

/** An entity by id: its view, undefined while loading, null when it does not exist (or was deleted). */
export function useEntity<V extends object>(model: Model<V>, id: EntityId | null | undefined): View<V> | null | undefined {
  const client = useClient();
  const select = (i: EntityId | null | undefined): [string, QueryArg[]] => (i ? ['id = ?', [i]] : ['FALSE', []]);
  const [lq] = useState<LiveQuery<V>>(() => client.query(model, ...select(id)));
  useEffect(() => lq.update(...select(id)), [lq, id]);
  const snap = useSignal(lq);
  if (!id) return null;
  const row = snap.rows.find((r) => r.id === id);
  if (row) return row;
  if (snap.status === 'live' && snap.rows.length === 0 && lq.query.args[0] === id) return null;
  return client.peek(model, id); // held by another query: show it while this one loads
}
