// An in-memory Ankurah server speaking protocol v1 over fake WebSockets, for
// unit tests of the client: handshake, request ids, subscriptions with
// known/unchanged/removed, commits with results and changes, and knobs to
// drop connections, hold back changes frames and write "SQL" rows directly.
// It evaluates queries with the client's own evaluator; what it proves is the
// client's protocol handling, not the evaluator (see query.test.ts for that).
import { compile, type Matcher } from '../src/query/eval.js';
import { parse } from '../src/query/parse.js';
import { fromWire } from '../src/query/value.js';
import type { WebSocketLike } from '../src/connection.js';
import type { ChangeItem, FieldType, JsonValue, WireEntity, WireEvent, WireValues } from '../src/protocol.js';
import { IdGenerator } from '../src/ulid.js';

interface Stored {
  id: string;
  collection: string;
  head: string[];
  values: WireValues;
  deleted: boolean;
}

interface Sub {
  collection: string;
  matcher: Matcher;
  members: Set<string>;
}

type Frame = { type: string; id?: number; [k: string]: unknown };

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** Frames the client sent, parsed. */
  readonly sent: Frame[] = [];
  welcomed = false;
  readonly subs = new Map<string, Sub>();

  constructor(private readonly server: FakeServer) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const f = JSON.parse(data) as Frame;
    this.sent.push(f);
    setTimeout(() => this.server.receive(this, f), 0);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.server.forget(this);
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  /** Frames delivered to the client. */
  readonly delivered: Frame[] = [];

  /** Delivers a frame to the client as a separate task, as a real socket does. */
  deliver(f: unknown): void {
    this.delivered.push(f as Frame);
    setTimeout(() => {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(f) });
    }, 0);
  }
}

export class FakeServer {
  readonly entities = new Map<string, Stored>();
  /** Every stored event, in id order. */
  readonly log: WireEvent[] = [];
  readonly schemas = new Map<string, Map<string, FieldType>>();
  readonly sockets: FakeSocket[] = [];
  /** Every socket ever opened. */
  readonly history: FakeSocket[] = [];
  /** Refuse connections (the server is down). */
  down = false;
  /** Hold changes frames until releaseChanges(). */
  holdChanges = false;
  private held: (() => void)[] = [];
  /** Entities the fake leaves out of every query result, to disagree with the client's evaluator. */
  readonly hide = new Set<string>();
  /** Entities the fake puts in every result of their collection, whatever the query says. */
  readonly force = new Set<string>();
  /** Hold commit requests (unanswered) until releaseCommits(). */
  holdCommits = false;
  private heldCommits: (() => void)[] = [];
  /** Read nothing and answer nothing on open sockets (a dead peer behind a live TCP connection). */
  silent = false;
  /** Make the next commits fail with this code. */
  failCommits: string | null = null;
  /**
   * Checks the token of hello and auth (default: none, everyone welcome):
   * whom it stands for, or the error that refuses it (in hello: an error
   * frame, then close 4002, as the real server does).
   */
  auth: ((token: string | undefined) => { subject?: string; expires_at?: string } | { error: { code: string; message: string } }) | null = null;
  private readonly ids = new IdGenerator();

  /** A WebSocket factory for ClientOptions.webSocket. */
  readonly factory = (_url: string): WebSocketLike => {
    const s = new FakeSocket(this);
    this.history.push(s);
    setTimeout(() => {
      if (this.down) {
        s.readyState = 3;
        s.onclose?.({ code: 1006, reason: '' });
        return;
      }
      s.readyState = 1;
      this.sockets.push(s);
      s.onopen?.({});
    }, 0);
    return s;
  };

  forget(s: FakeSocket): void {
    const i = this.sockets.indexOf(s);
    if (i >= 0) this.sockets.splice(i, 1);
  }

  /** Ends a session as the server does: an error frame saying why, then the close. */
  end(s: FakeSocket, code: number, error: { code: string; message: string }): void {
    s.deliver({ type: 'error', error });
    setTimeout(() => s.close(code, error.code), 0); // after the frame is delivered
  }

  /** Drops every connection as a crash would (close 1006). */
  dropAll(): void {
    for (const s of [...this.sockets]) {
      s.readyState = 3;
      this.forget(s);
      setTimeout(() => s.onclose?.({ code: 1006, reason: '' }), 0);
    }
  }

  releaseCommits(): void {
    this.holdCommits = false;
    for (const f of this.heldCommits.splice(0)) f();
  }

  releaseChanges(): void {
    this.holdChanges = false;
    for (const f of this.held.splice(0)) f();
  }

  receive(s: FakeSocket, f: Frame): void {
    if (s.readyState !== 1 || this.silent) return;
    if (!s.welcomed) {
      if (f.type !== 'hello') {
        s.deliver({ type: 'error', error: { code: 'handshake_required', message: 'say hello first' } });
        s.close(4002);
        return;
      }
      const who = this.auth?.(f.token as string | undefined) ?? {};
      if ('error' in who) return this.end(s, 4002, who.error);
      s.welcomed = true;
      s.deliver({ type: 'welcome', protocol: 1, server: 'fake/0', session: this.ids.next(), limits: { max_frame_bytes: 1 << 20, max_subscriptions: 1000, max_commit_events: 1000 }, ...who });
      return;
    }
    if (f.type === 'commit' && this.holdCommits) {
      this.heldCommits.push(() => this.receive(s, f));
      return;
    }
    const id = f.id!;
    const ok = (result: unknown): void => s.deliver({ type: 'result', id, result });
    const err = (code: string, message: string): void => s.deliver({ type: 'error', id, error: { code, message } });
    try {
      switch (f.type) {
        case 'register_schema': {
          for (const c of f.collections as { name: string; fields: { name: string; type: FieldType }[] }[]) {
            const m = this.schemas.get(c.name) ?? new Map<string, FieldType>();
            for (const fl of c.fields) m.set(fl.name, fl.type);
            this.schemas.set(c.name, m);
          }
          return ok({ collections: f.collections });
        }
        case 'subscribe': {
          const collection = f.collection as string;
          // Like the real server: a collection that does not exist yet is
          // empty (its first write adds to the result); a name no collection
          // can have is refused.
          if (!/^[a-z][a-z0-9_]{0,62}$/.test(collection)) return err('bad_name', `collection name "${collection}": use lowercase letters, digits and _, starting with a letter`);
          if (s.subs.has(f.sub as string)) return err('duplicate_subscription', 'already active');
          const matcher = compile(parse(f.query as string), (f.args as JsonValue[]) ?? []);
          const sub: Sub = { collection, matcher, members: new Set() };
          const result = this.run(sub);
          sub.members = new Set(result.map((e) => e.id));
          s.subs.set(f.sub as string, sub);
          const known = (f.known as Record<string, string[]>) ?? {};
          return ok({
            sub: f.sub,
            entities: result.map((e) =>
              known[e.id] && JSON.stringify(known[e.id]) === JSON.stringify(e.head) ? { id: e.id, head: e.head, unchanged: true } : this.wire(e),
            ),
            removed: Object.keys(known).filter((k) => !sub.members.has(k)),
          });
        }
        case 'ping':
          return ok({});
        case 'auth': {
          if (!this.auth) return err('bad_request', 'this server does not check tokens');
          const who = this.auth(f.token as string);
          return 'error' in who ? err(who.error.code, who.error.message) : ok(who);
        }
        case 'unsubscribe':
          if (!s.subs.delete(f.sub as string)) return err('unknown_subscription', 'not active');
          return ok({});
        case 'fetch': {
          const matcher = compile(parse(f.query as string), (f.args as JsonValue[]) ?? []);
          return ok({ entities: this.run({ collection: f.collection as string, matcher, members: new Set() }).map((e) => this.wire(e)) });
        }
        case 'get':
          return ok({ entities: (f.ids as string[]).flatMap((i) => { const e = this.entities.get(i); return e && !e.deleted ? [this.wire(e)] : []; }) });
        case 'get_events':
          return ok({ events: this.log.filter((e) => (f.entity_id ? e.entity_id === f.entity_id : (f.ids as string[]).includes(e.id))) });
        case 'commit': {
          if (this.failCommits) return err(this.failCommits, 'refused by the fake');
          const events = f.events as WireEvent[];
          for (const e of events) {
            const cur = this.entities.get(e.entity_id);
            if (e.parents.length > 0 && !cur) return err('missing_parents', `parents of ${e.id} unknown`);
            for (const p of e.parents) if (p >= e.id) return err('invalid_event', 'id not above its parents');
          }
          ok({ entities: this.apply(events).map((e) => this.wire(e)) });
          return;
        }
        default:
          return err('unknown_type', `unknown frame type "${f.type}"`);
      }
    } catch (e) {
      err((e as { code?: string }).code ?? 'internal', String(e));
    }
  }

  /** Writes as plain SQL would: an INSERT (no id) or an UPDATE of some values. */
  sql(collection: string, values: WireValues, id?: string): string {
    const cur = id ? this.entities.get(id) : undefined;
    const evId = this.ids.next(cur?.head ?? []);
    this.apply([{ id: evId, collection, entity_id: id ?? evId, parents: cur?.head ?? [], operations: values }]);
    return id ?? evId;
  }

  /** Deletes as a SQL DELETE would. */
  apply_delete(id: string): void {
    const cur = this.entities.get(id)!;
    this.apply([{ id: this.ids.next(cur.head), collection: cur.collection, entity_id: id, parents: cur.head, operations: {}, delete: true }]);
  }

  private apply(events: WireEvent[]): Stored[] {
    const touched: Stored[] = [];
    const fresh: Stored[] = [];
    for (const e of events) {
      const cur = this.entities.get(e.entity_id);
      if (cur && cur.head.includes(e.id)) {
        touched.push(cur); // already stored: skipped, but its state is still the answer
        continue;
      }
      const next: Stored = cur ? { ...cur, values: { ...cur.values } } : { id: e.entity_id, collection: e.collection, head: [], values: {}, deleted: false };
      for (const [k, v] of Object.entries(e.operations)) {
        if (v === null) delete next.values[k];
        else next.values[k] = v;
      }
      if (e.delete) next.deleted = true;
      this.log.push(e);
      this.log.sort((x, y) => (x.id < y.id ? -1 : 1));
      next.head = [...next.head.filter((h) => !e.parents.includes(h)), e.id].sort();
      this.entities.set(next.id, next);
      touched.push(next);
      fresh.push(next);
    }
    this.publish(fresh, events);
    return touched;
  }

  /** Sends each socket the items of one transaction in one changes frame. */
  private publish(touched: Stored[], events: WireEvent[]): void {
    for (const s of this.sockets) {
      const items: ChangeItem[] = [];
      for (const [name, sub] of s.subs) {
        const now = new Set(this.run(sub).map((e) => e.id));
        for (const e of touched) {
          if (e.collection !== sub.collection) continue;
          const was = sub.members.has(e.id);
          const is = now.has(e.id);
          const evs = events.filter((x) => x.entity_id === e.id);
          if (is) items.push({ sub: name, kind: was ? 'update' : 'add', entity: this.wire(e), events: evs });
          else if (was) items.push({ sub: name, kind: 'remove', entity: this.wire(e), events: evs });
        }
        for (const id of sub.members) {
          if (!now.has(id) && !touched.some((e) => e.id === id)) items.push({ sub: name, kind: 'remove', entity: this.wire(this.entities.get(id)!) });
        }
        for (const id of now) {
          if (!sub.members.has(id) && !touched.some((e) => e.id === id)) items.push({ sub: name, kind: 'add', entity: this.wire(this.entities.get(id)!) });
        }
        sub.members = now;
      }
      if (items.length === 0) continue;
      const send = (): void => s.deliver({ type: 'changes', items });
      if (this.holdChanges) this.held.push(send);
      else send();
    }
  }

  private run(sub: Sub): Stored[] {
    const fields = this.schemas.get(sub.collection);
    const rec = (e: Stored) => ({ get: (f: string) => (f === 'id' ? { t: 'text' as const, s: e.id } : fromWire(e.values[f], fields?.get(f))) });
    let out = [...this.entities.values()].filter((e) => e.collection === sub.collection && !e.deleted && !this.hide.has(e.id) && (this.force.has(e.id) || sub.matcher.match(rec(e))));
    out.sort((a, b) => sub.matcher.compare(rec(a), rec(b)));
    if (sub.matcher.limit !== null) out = out.slice(0, sub.matcher.limit);
    return out;
  }

  private wire(e: Stored): WireEntity {
    const w: WireEntity = { id: e.id, collection: e.collection, head: e.head, values: e.values };
    if (e.deleted) w.deleted = true;
    return w;
  }

  /** The socket currently open (the last one). */
  get socket(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error('no open socket');
    return s;
  }
}

/** Waits until cond() holds (polling on real timers), or fails after ms. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Lets every queued task run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}
