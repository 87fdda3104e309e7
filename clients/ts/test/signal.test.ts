import { describe, expect, it } from 'vitest';
import { batch, computed, signal } from '../src/signal.js';

describe('signals', () => {
  it('notifies subscribers of changes, not of equal values', () => {
    const s = signal(1);
    const seen: number[] = [];
    const off = s.subscribe((v) => seen.push(v));
    s.set(2);
    s.set(2);
    s.update((v) => v + 1);
    off();
    s.set(9);
    expect(seen).toEqual([2, 3]);
    expect(s.get()).toBe(9);
  });

  it('derives values and follows dynamic dependencies', () => {
    const flag = signal(true);
    const a = signal('a');
    const b = signal('b');
    const c = computed(() => (flag.get() ? a.get() : b.get()));
    const seen: string[] = [];
    c.subscribe((v) => seen.push(v));
    b.set('B'); // not a dependency yet
    a.set('A');
    flag.set(false);
    a.set('x'); // no longer a dependency
    b.set('BB');
    expect(seen).toEqual(['A', 'B', 'BB']);
  });

  it('recomputes on every read while unwatched', () => {
    const a = signal(1);
    const c = computed(() => a.get() * 2);
    expect(c.get()).toBe(2);
    a.set(5);
    expect(c.get()).toBe(10);
  });

  it('delivers one notification per listener for a batch', () => {
    const a = signal(0);
    const b = signal(0);
    const sum = computed(() => a.get() + b.get());
    const seen: number[] = [];
    sum.subscribe((v) => seen.push(v));
    batch(() => {
      a.set(1);
      b.set(2);
      a.set(3);
    });
    expect(seen).toEqual([5]);
  });
});
