/**
 * The connection: one WebSocket at a time, the hello/welcome handshake,
 * request ids with exactly one answer each, and automatic reconnection with
 * exponential backoff and jitter.
 *
 * Requests are queued until a session is ready and, when the connection is
 * lost before they are answered, either sent again on the next session
 * (idempotent requests: commits, reads — the server skips events it already
 * stored) or failed with code `disconnected` (session-bound requests:
 * subscribe, update_subscription, unsubscribe — the live queries redo those
 * themselves after reconnecting).
 */
import { getToken, type TokenProvider } from './auth.js';
import { AnkurahError, ClientCodes } from './errors.js';
import { PROTOCOL_VERSION, type AuthResult, type ChangeItem, type Request, type SchemaChange, type ServerFrame, type Welcome, type WireCollection } from './protocol.js';
import { signal, type ReadSignal, type WritableSignal } from './signal.js';

/** The part of the WebSocket API the client uses (browsers', Node 22's, or the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

/** Where the connection is. */
export type ConnectionStatus =
  /** The first connection is being made. */
  | 'connecting'
  /** A session is open and set up: requests flow. */
  | 'connected'
  /** The connection was lost; the client is waiting to try again, or trying. */
  | 'reconnecting'
  /** close() was called. */
  | 'closed';

export interface ConnectionState {
  readonly status: ConnectionStatus;
  /** The server's address (the url option). */
  readonly url: string;
  /** Failed attempts since the last session. */
  readonly attempt: number;
  /** Why the last connection ended or failed, if it did. */
  readonly error?: AnkurahError;
  /** When the next attempt starts (ms since the epoch), while waiting. */
  readonly retryAt?: number;
  /** The open session's welcome: `subject` (whom it acts for) and `expires_at` follow token refreshes. */
  readonly welcome?: Welcome;
}

export interface BackoffOptions {
  /** The first delay, doubled on each failure (default 250 ms). */
  initialMs?: number;
  /** The longest delay (default 10 s). */
  maxMs?: number;
}

export interface ConnectionOptions {
  /** ws:// or wss:// URL of the server's /ws endpoint. */
  url: string;
  /**
   * The JWT sent in hello, or a function returning it (or a promise of it),
   * called before every connection attempt and when the server says the
   * token expires soon — the new token is then sent on the open connection
   * (`auth`), keeping the subscriptions. A function that fails fails the
   * attempt (`token_failed`, retried). A token the server refuses ends the
   * attempt with `unauthenticated` or `token_expired` in `state.error`.
   */
  token?: string | TokenProvider;
  /** Names the client in hello, e.g. "my-app/1.0". */
  clientName?: string;
  /** Makes the WebSocket (default: the global WebSocket). */
  webSocket?: WebSocketFactory;
  backoff?: BackoffOptions;
  /** How long to wait for welcome (default 10 s). */
  handshakeTimeoutMs?: number;
  /**
   * The client's own check that the connection is alive: after `intervalMs`
   * (default 20 s) without any frame from the server it sends a `ping`
   * request, and when nothing at all arrives within `timeoutMs` (default
   * 15 s) after that, it drops the connection (code `keepalive_timeout`) and
   * reconnects. `false` turns it off.
   */
  keepalive?: { intervalMs?: number; timeoutMs?: number } | false;
  /** Random numbers in [0, 1) for jitter (tests pass their own). */
  random?: () => number;
}

/** Delivered per session by the connection to its owner. */
export interface SessionHooks {
  /**
   * Runs after welcome, before queued requests are sent: the client
   * registers schemas and resubscribes here, with `early` requests.
   */
  setup(welcome: Welcome): Promise<void>;
  /** A changes frame (all items of one database transaction). */
  changes(items: ChangeItem[]): void;
  /** The session ended (before reconnecting). */
  lost(): void;
  /** A `schema` frame: a collection's schema changed (collection: its schema after, null when dropped). */
  schema?(change: SchemaChange, collection: WireCollection | null): void;
  /** The server ended a subscription it can no longer maintain (e.g. schema_changed). */
  subEnded?(sub: string, err: AnkurahError): void;
}

export interface RequestOptions {
  /** Send again on the next session if the connection is lost before the answer. */
  persistent?: boolean;
  /** Send as soon as the handshake is done (setup requests), not after setup. */
  early?: boolean;
}

type Callback = (err: AnkurahError | null, result: unknown) => void;

interface Pending {
  frame: Request;
  cb: Callback;
  persistent: boolean;
  early: boolean;
  /** The id it was sent with on the current session (0: not sent). */
  sentAs: number;
}

export class Connection {
  readonly #state: WritableSignal<ConnectionState>;
  #ws: WebSocketLike | null = null;
  #welcome: Welcome | null = null;
  #ready = false;
  #closed = false;
  #nextId = 1;
  /** Requests not answered yet, in the order they were made. */
  readonly #queue: Pending[] = [];
  /** Sent requests by the id they were sent with on the current session. */
  readonly #inFlight = new Map<number, Pending>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #hooks: SessionHooks | null = null;
  readonly #random: () => number;
  readonly #onOnline = (): void => this.retryNow();
  readonly #factory: WebSocketFactory;
  /** When the last frame arrived, and when the unanswered keepalive ping went out (0: none). */
  #lastHeard = 0;
  #pingAt = 0;
  #aliveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The token the session was opened or refreshed with; the server's error about the session (before it closes it); asking for a token. */
  #token = '';
  #said: AnkurahError | null = null;
  #fetching = false;

  /**
   * Throws AnkurahError `bad_url` for an address that is not ws:// or
   * wss://, and `no_websocket` when there is no WebSocket to use (Node
   * before 22 without the webSocket option): retrying cannot fix either.
   */
  readonly #opts: ConnectionOptions;

  constructor(opts: ConnectionOptions) {
    this.#opts = opts;
    this.#random = opts.random ?? Math.random;
    let u: URL | undefined;
    try {
      u = new URL(opts.url);
    } catch {
      // reported below
    }
    if (!u || (u.protocol !== 'ws:' && u.protocol !== 'wss:')) {
      throw new AnkurahError(ClientCodes.badUrl, `${JSON.stringify(opts.url)} is not a ws:// or wss:// address`);
    }
    const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
    if (!opts.webSocket && typeof WS !== 'function') {
      throw new AnkurahError(ClientCodes.noWebSocket, 'no WebSocket here: use Node 22+ or pass the webSocket option');
    }
    this.#factory = opts.webSocket ?? ((url) => new WS!(url));
    this.#state = signal<ConnectionState>({ status: 'connecting', url: opts.url, attempt: 0 });
  }

  /** The connection's state, as a signal. */
  get state(): ReadSignal<ConnectionState> {
    return this.#state;
  }

  /** Starts connecting; hooks hear about sessions and changes. */
  start(hooks: SessionHooks): void {
    this.#hooks = hooks;
    globalThis.addEventListener?.('online', this.#onOnline);
    this.#connect();
  }

  /** Closes the connection for good; unanswered requests fail with code `closed`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    globalThis.removeEventListener?.('online', this.#onOnline);
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000, 'client closed');
    clearTimeout(this.#aliveTimer);
    const err = new AnkurahError(ClientCodes.closed, 'the client was closed');
    for (const p of this.#queue.splice(0)) p.cb(err, undefined);
    this.#inFlight.clear();
    this.#state.set({ status: 'closed', url: this.#opts.url, attempt: this.#attempt });
  }

  /** Sends a request; the promise settles with its one answer. */
  request<R>(frame: Request, opts: RequestOptions = {}): Promise<R> {
    return new Promise((resolve, reject) => {
      this.send(frame, (err, result) => (err ? reject(err) : resolve(result as R)), opts);
    });
  }

  /**
   * Sends a request and calls cb synchronously with its answer, in frame
   * order with the changes frames around it (a subscription's result must be
   * applied before the changes that follow it; promise callbacks run later).
   */
  send(frame: Request, cb: Callback, opts: RequestOptions = {}): void {
    if (this.#closed) {
      cb(new AnkurahError(ClientCodes.closed, 'the client was closed'), undefined);
      return;
    }
    const p: Pending = { frame, cb, persistent: opts.persistent ?? false, early: opts.early ?? false, sentAs: 0 };
    this.#queue.push(p);
    if (this.#ready || (p.early && this.#welcome)) this.#transmit(p);
  }

  /** Skips the wait before the next attempt (e.g. the browser came back online). */
  retryNow(): void {
    if (this.#closed || this.#ws || this.#fetching) return;
    clearTimeout(this.#timer);
    this.#connect();
  }

  #transmit(p: Pending): void {
    const id = this.#nextId++;
    p.sentAs = id;
    this.#inFlight.set(id, p);
    this.#ws!.send(JSON.stringify({ ...p.frame, id }));
  }

  /**
   * Asks the token option for a token now (after the user signed in again,
   * say): an open session sends it with `auth` and keeps its subscriptions;
   * otherwise the next attempt starts at once. Settles when the server
   * answered (a refusal rejects, and shows in `state.error`) or the attempt
   * started. Called by itself on `token_expiring`.
   */
  reauthenticate(): Promise<void> {
    const ws = this.#ws;
    const t = this.#opts.token;
    if (!ws || !this.#welcome) return Promise.resolve(this.retryNow());
    if (typeof t !== 'function') return Promise.resolve(); // a fixed token ends with the session (token_expired)
    return getToken(t, this.#opts.handshakeTimeoutMs ?? 10_000)
      .then((tok) =>
        this.#ws !== ws || tok === this.#token
          ? undefined // nothing new to send: the session ends when its token expires
          : this.request<AuthResult>({ type: 'auth', token: tok }, { early: true }).then((r) => {
              this.#token = tok;
              if (this.#ws !== ws) return;
              const { subject: _s, expires_at: _e, ...w } = this.#welcome!;
              const welcome = (this.#welcome = { ...w, ...r });
              this.#state.update(({ error: _, ...s }) => ({ ...s, welcome }));
            }),
      )
      .catch((e: AnkurahError) => {
        if (this.#ws === ws) this.#state.update((s) => ({ ...s, error: e }));
        throw e;
      });
  }

  #connect(): void {
    const t = this.#opts.token;
    if (typeof t !== 'function') return this.#open(t ?? '');
    this.#fetching = true;
    getToken(t, this.#opts.handshakeTimeoutMs ?? 10_000).then(
      (tok) => {
        this.#fetching = false;
        if (!this.#closed) this.#open(tok);
      },
      (err: AnkurahError) => {
        this.#fetching = false;
        if (!this.#closed) this.#lose(err);
      },
    );
  }

  #open(token: string): void {
    this.#token = token;
    this.#said = null;
    let ws: WebSocketLike;
    try {
      ws = this.#factory(this.#opts.url);
    } catch (e) {
      this.#lose(new AnkurahError(ClientCodes.connectFailed, `cannot connect to ${this.#opts.url}: ${String(e)}`));
      return;
    }
    this.#ws = ws;
    const handshakeTimer = setTimeout(() => {
      if (this.#ws === ws && !this.#welcome) {
        ws.close(4000, 'handshake timeout');
        this.#lose(new AnkurahError('handshake_timeout', `${this.#opts.url} did not answer hello`));
      }
    }, this.#opts.handshakeTimeoutMs ?? 10_000);
    ws.onopen = () => {
      // JSON leaves out what is undefined: no token, no client name.
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, token: token || undefined, client: this.#opts.clientName || undefined }));
    };
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      this.#lastHeard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return this.#fail(ws, new AnkurahError(ClientCodes.badFrame, 'the server sent a frame that is not JSON'));
      }
      if (frame.type === 'welcome') {
        clearTimeout(handshakeTimer);
        this.#begin(ws, frame);
      } else {
        this.#receive(frame);
      }
    };
    ws.onclose = (ev) => {
      clearTimeout(handshakeTimer);
      if (this.#ws !== ws) return;
      const reason = ev.reason ? `: ${ev.reason}` : '';
      // Browsers do not say why a connection failed (refused, no route, TLS):
      // the close code and the address are all there is to show.
      // The server says why it ends a session (an error frame, then the
      // close): a refused or expired token, a slow consumer.
      const said = this.#said;
      this.#lose(
        said
          ? new AnkurahError(said.code, `${this.#opts.url}: ${said.message}`)
          : ev.code === 4001
          ? new AnkurahError('slow_consumer', `${this.#opts.url} dropped this client for falling behind (4001${reason})`)
          : this.#welcome
            ? new AnkurahError(ClientCodes.disconnected, `lost the connection to ${this.#opts.url} (${ev.code}${reason})`)
            : new AnkurahError(ClientCodes.connectFailed, `cannot connect to ${this.#opts.url} (${ev.code}${reason})`),
      );
    };
    ws.onerror = () => {
      // onclose follows with the details.
    };
  }

  /** The handshake is done: let the owner set the session up, then send everything queued. */
  #begin(ws: WebSocketLike, welcome: Welcome): void {
    this.#welcome = welcome;
    for (const p of this.#queue) if (p.early && p.sentAs === 0) this.#transmit(p);
    this.#hooks!.setup(welcome).then(
      () => {
        if (this.#ws !== ws) return;
        this.#ready = true;
        this.#attempt = 0;
        this.#state.set({ status: 'connected', url: this.#opts.url, attempt: 0, welcome });
        for (const p of this.#queue) if (p.sentAs === 0) this.#transmit(p);
        this.#lastHeard = Date.now();
        this.#pingAt = 0;
        this.#keepAlive(ws);
      },
      (err: unknown) => {
        if (this.#ws !== ws) return;
        this.#fail(ws, err instanceof AnkurahError ? err : new AnkurahError('setup_failed', String(err)));
      },
    );
  }

  #receive(frame: ServerFrame): void {
    switch (frame.type) {
      case 'changes':
        if (this.#welcome) this.#hooks!.changes(frame.items ?? []);
        return;
      case 'schema':
        if (this.#welcome) this.#hooks!.schema?.(frame.change, frame.collection ?? null);
        return;
      case 'token_expiring':
        this.reauthenticate().catch(() => {}); // a refusal is in the state; the session ends at expiry
        return;
      case 'result':
      case 'error': {
        if (frame.type === 'error' && frame.sub && !frame.id) {
          this.#hooks!.subEnded?.(frame.sub, AnkurahError.fromWire(frame.error));
          return;
        }
        if (frame.id === null) return; // answers a frame without a valid id: not one of ours
        if (frame.id === undefined || frame.id === 0) {
          // An error about the session itself (slow_consumer, handshake): the close follows.
          if (frame.type === 'error') this.#state.update((s) => ({ ...s, error: (this.#said = AnkurahError.fromWire(frame.error)) }));
          return;
        }
        const p = this.#inFlight.get(frame.id);
        if (!p) return; // an answer to a request of an earlier session
        this.#inFlight.delete(frame.id);
        this.#queue.splice(this.#queue.indexOf(p), 1);
        if (frame.type === 'error') p.cb(AnkurahError.fromWire(frame.error), undefined);
        else p.cb(null, frame.result);
      }
    }
  }

  /**
   * The keepalive: a ping after a silence, and the connection is dropped
   * when the silence outlasts the ping's timeout. Any frame counts as life,
   * since requests are answered in order and a ping may wait behind a slow
   * one.
   */
  #keepAlive(ws: WebSocketLike): void {
    const ka = this.#opts.keepalive;
    if (ka === false) return;
    const interval = ka?.intervalMs ?? 20_000;
    const timeout = ka?.timeoutMs ?? 15_000;
    const check = (): void => {
      if (this.#ws !== ws || !this.#ready) return;
      const now = Date.now();
      if (this.#pingAt > 0 && this.#lastHeard < this.#pingAt) {
        if (now - this.#pingAt >= timeout) {
          return this.#fail(ws, new AnkurahError(ClientCodes.keepaliveTimeout, `${this.#opts.url} did not answer for ${Math.round((now - this.#lastHeard) / 1000)} s`));
        }
      } else if (now - this.#lastHeard >= interval) {
        this.#pingAt = now;
        this.send({ type: 'ping' }, () => {});
      } else {
        this.#pingAt = 0;
      }
      this.#aliveTimer = setTimeout(check, this.#pingAt > 0 ? this.#pingAt + timeout - now : this.#lastHeard + interval - now);
    };
    clearTimeout(this.#aliveTimer);
    this.#aliveTimer = setTimeout(check, interval);
  }

  #fail(ws: WebSocketLike, err: AnkurahError): void {
    ws.close(4000, err.code);
    this.#lose(err);
  }

  /** The session ended: fail or keep its requests, tell the owner, schedule a retry. */
  #lose(err: AnkurahError): void {
    const hadSession = this.#welcome !== null;
    clearTimeout(this.#aliveTimer);
    this.#ws = null;
    this.#welcome = null;
    this.#ready = false;
    this.#inFlight.clear();
    // Requests sent on the lost session: persistent ones go again on the
    // next, the others fail. Requests never sent simply wait.
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const p = this.#queue[i]!;
      if (p.sentAs === 0) continue;
      p.sentAs = 0;
      if (!p.persistent) {
        this.#queue.splice(i, 1);
        p.cb(new AnkurahError(ClientCodes.disconnected, err.message), undefined); // why the session ended
      }
    }
    if (hadSession) this.#hooks!.lost();
    if (this.#closed) return;
    const delay = this.#backoff(this.#attempt++);
    // Connecting until the first session, then reconnecting.
    const status = this.#state.peek().status === 'connecting' ? 'connecting' : 'reconnecting';
    this.#state.set({ status, url: this.#opts.url, attempt: this.#attempt, error: err, retryAt: Date.now() + delay });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Exponential backoff with "equal jitter": half the delay fixed, half random. */
  #backoff(attempt: number): number {
    const initial = this.#opts.backoff?.initialMs ?? 250;
    const max = this.#opts.backoff?.maxMs ?? 10_000;
    const d = Math.min(max, initial * 2 ** Math.min(attempt, 30));
    return d / 2 + this.#random() * (d / 2);
  }
}
