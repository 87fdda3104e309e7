/**
 * A small signal primitive so that any UI library can bind to the client:
 * `signal` holds a value, `computed` derives one (dependencies are tracked
 * automatically while it runs), and every readable signal has `get` and
 * `subscribe`. React binds through `useSyncExternalStore`; Vue, Svelte or
 * plain DOM code subscribe directly.
 *
 * Listeners run synchronously after a change, or once at the end of the
 * outermost `batch`, so that applying a whole server transaction notifies
 * each listener once.
 */

/** A value that can be read and watched. */
export interface ReadSignal<T> {
  /** Returns the current value (and, inside a computed, depends on it). */
  get(): T;
  /** Returns the current value without becoming a dependency. */
  peek(): T;
  /** Calls fn with each new value until the returned function is called. */
  subscribe(fn: (value: T) => void): () => void;
}

/** A signal whose value is set from outside. */
export interface WritableSignal<T> extends ReadSignal<T> {
  set(value: T): void;
  update(fn: (value: T) => T): void;
}

/** Something a computed can depend on. */
interface Source {
  subscribe(fn: () => void): () => void;
}

/** The computed currently evaluating, which records what it reads. */
let tracking: Set<Source> | null = null;

let batchDepth = 0;
const queued = new Map<(value: never) => void, () => void>();

function notify<T>(listeners: ReadonlySet<(value: T) => void>, value: T): void {
  for (const fn of [...listeners]) {
    if (batchDepth > 0) {
      // The last value wins: a listener hears about a batch once.
      queued.set(fn as (value: never) => void, () => fn(value));
    } else {
      fn(value);
    }
  }
}

/**
 * Runs fn and delivers the notifications it causes once, when the outermost
 * batch ends. Returns what fn returns.
 */
export function batch<R>(fn: () => R): R {
  batchDepth++;
  try {
    return fn();
  } finally {
    batchDepth--;
    if (batchDepth === 0) {
      while (queued.size > 0) {
        const calls = [...queued.values()];
        queued.clear();
        for (const call of calls) call();
      }
    }
  }
}

class Signal<T> implements WritableSignal<T>, Source {
  #value: T;
  readonly #listeners = new Set<(value: T) => void>();

  readonly #equals: (a: T, b: T) => boolean;

  constructor(initial: T, equals: (a: T, b: T) => boolean) {
    this.#value = initial;
    this.#equals = equals;
  }

  get(): T {
    tracking?.add(this);
    return this.#value;
  }

  peek(): T {
    return this.#value;
  }

  set(value: T): void {
    if (this.#equals(this.#value, value)) return;
    this.#value = value;
    notify(this.#listeners, value);
  }

  update(fn: (value: T) => T): void {
    this.set(fn(this.#value));
  }

  subscribe(fn: (value: T) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

/** Returns a writable signal; `set` with an equal value (Object.is by default) notifies nobody. */
export function signal<T>(initial: T, equals: (a: T, b: T) => boolean = Object.is): WritableSignal<T> {
  return new Signal(initial, equals);
}

class Computed<T> implements ReadSignal<T>, Source {
  #value!: T;
  #dirty = true;
  readonly #listeners = new Set<(value: T) => void>();
  readonly #deps = new Map<Source, () => void>();

  readonly #fn: () => T;
  readonly #equals: (a: T, b: T) => boolean;

  constructor(fn: () => T, equals: (a: T, b: T) => boolean) {
    this.#fn = fn;
    this.#equals = equals;
  }

  get(): T {
    tracking?.add(this);
    return this.peek();
  }

  peek(): T {
    // Without listeners nothing tells us when a dependency changes, so an
    // unwatched computed recomputes on every read.
    if (this.#dirty || this.#listeners.size === 0) this.#evaluate();
    return this.#value;
  }

  subscribe(fn: (value: T) => void): () => void {
    const first = this.#listeners.size === 0;
    this.#listeners.add(fn);
    if (first) this.#evaluate(); // wires the dependencies
    return () => {
      this.#listeners.delete(fn);
      if (this.#listeners.size === 0) this.#unwatchAll();
    };
  }

  /** Runs fn, recording what it reads, and re-wires the dependencies when watched. */
  #evaluate(): void {
    const outer = tracking;
    const seen = new Set<Source>();
    tracking = seen;
    let next: T;
    try {
      next = this.#fn();
    } finally {
      tracking = outer;
    }
    this.#dirty = false;
    this.#value = next;
    if (this.#listeners.size > 0) this.#rewire(seen);
  }

  #rewire(seen: Set<Source>): void {
    for (const [dep, off] of this.#deps) {
      if (!seen.has(dep)) {
        off();
        this.#deps.delete(dep);
      }
    }
    for (const dep of seen) {
      if (!this.#deps.has(dep)) this.#deps.set(dep, dep.subscribe(() => this.#onDependencyChange()));
    }
  }

  #unwatchAll(): void {
    for (const off of this.#deps.values()) off();
    this.#deps.clear();
    this.#dirty = true;
  }

  #onDependencyChange(): void {
    const before = this.#value;
    this.#evaluate();
    if (!this.#equals(before, this.#value)) notify(this.#listeners, this.#value);
  }
}

/**
 * Returns a signal derived from others: fn runs again when a signal it read
 * last time changes (while the computed is watched), and listeners hear
 * about it only when the result differs (Object.is by default).
 */
export function computed<T>(fn: () => T, equals: (a: T, b: T) => boolean = Object.is): ReadSignal<T> {
  return new Computed(fn, equals);
}
