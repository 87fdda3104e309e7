// The inspector's data endpoints (docs/inspector.md) and their JSON.

export interface ServerInfo {
  server: string;
  backend: string;
  started_at: string;
  uptime_seconds: number;
  access: string;
  sample_interval_seconds: number;
}

export interface Field { name: string; type: string; refers?: string }
export interface Collection {
  name: string;
  fields: Field[];
  rows: number;
  rows_exact: boolean;
  origin: 'adopted' | 'created';
  table?: string;
  state?: string;
  writes_per_second: number;
  changes: number;
}

export interface Subscription {
  name: string;
  collection: string;
  query: string;
  effective?: string;
  members: number;
  frames: number;
  items: number;
  bytes: number;
  frames_per_second: number;
  bytes_per_second: number;
  queue: number;
  stale?: boolean;
}
export interface Connection {
  session: string;
  client: string;
  subject?: string;
  remote: string;
  connected_at: string;
  age_seconds: number;
  queue: number;
  queue_limit: number;
  frames_sent: number;
  bytes_sent: number;
  frames_per_second: number;
  bytes_per_second: number;
  slow: boolean;
  subscriptions: Subscription[];
}
export interface SlowConsumer { session: string; client: string; subject?: string; remote: string; at: string; reason: string }
export interface Connections { connections: Connection[]; subscriptions: number; slow_consumers: SlowConsumer[]; truncated?: boolean }

export interface Sample {
  at: string;
  transactions_per_second: number;
  changes_per_second: number;
  lag_bytes: number | null;
  lag_seconds: number | null;
  fanout_ms: number | null;
  fanout_max_ms: number | null;
}
export interface Replication {
  backend: string;
  transactions: number;
  changes: number;
  slow_consumer_disconnects: number;
  lag_bytes: number | null;
  interval_seconds: number;
  samples: Sample[];
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface HistoryEvent {
  id: string;
  time: string;
  recorded_at?: string;
  author?: string;
  origin: 'api' | 'sql';
  parents: string[];
  children: string[];
  operations: Record<string, Json>;
  delete?: boolean;
  merge?: boolean;
  concurrent: string[];
  head?: boolean;
}
export interface FieldResolution {
  field: string;
  value: Json;
  event: string;
  reason: 'only' | 'causal' | 'concurrent' | 'merged';
  explanation: string;
  others: { event: string; value: Json; relation: 'before' | 'concurrent' }[];
}
export interface History {
  collection: string;
  id: string;
  events: HistoryEvent[];
  head: string[];
  at?: string;
  state: { values: Record<string, Json>; deleted?: boolean; head: string[] };
  fields: FieldResolution[];
}

export interface QueryResult {
  collection: string;
  query: string;
  sql: string;
  args: Json[];
  sql_on: string;
  rows: { id: string; values: Record<string, Json>; head: string[] }[];
  truncated?: boolean;
}

const tokenKey = 'ankurah-inspector-token';
export let token = sessionStorage.getItem(tokenKey) ?? '';
export function setToken(t: string): void {
  token = t;
  sessionStorage.setItem(tokenKey, t);
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** GETs /inspect/api/PATH with the administrator's token, if any. */
export async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const q = new URLSearchParams(params).toString();
  const res = await fetch('/inspect/api/' + path + (q ? '?' + q : ''), {
    headers: token ? { Authorization: 'Bearer ' + token } : {},
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({ error: res.statusText }))) as { error?: string };
  if (!res.ok) throw new HttpError(res.status, body.error ?? res.statusText);
  return body as T;
}
