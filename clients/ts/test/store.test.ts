import { describe, expect, it } from 'vitest';
import { EntityStore, type StoreChange } from '../src/store.js';
import '../src/text.js'; // installs the text hooks (a ytext field's documents)

const E1 = '01J00000000000000000000001';
const E2 = '01J00000000000000000000002';
const E3 = '01J00000000000000000000003';

describe('entity store', () => {
  it('ignores a server state older than the one held (largest head id)', () => {
    const s = new EntityStore();
    s.retain(E1);
    s.applyServer({ id: E1, head: [E3], values: { year: 2003 } }, 'album');
    s.applyServer({ id: E1, head: [E2], values: { year: 2002 } }, 'album');
    expect(s.visible(E1)?.values).toEqual({ year: 2003 });
    s.applyServer({ id: E1, head: [E2, E3], values: { year: 2004 } }, 'album'); // same max: concurrent merge
    expect(s.visible(E1)?.values).toEqual({ year: 2004 });
  });

  it('orders states that share their largest head id: a late commit result does not undo later edits', () => {
    // B's edit E9 is concurrent with A's E4, E5, E6 (A's chain). The server's
    // states: {E4, E9}, then {E5, E9}, then {E6, E9}; B receives the first
    // one (its commit result) last. All share the largest id, E9.
    const E4 = '01J00000000000000000000004';
    const E5 = '01J00000000000000000000005';
    const E6 = '01J00000000000000000000006';
    const E9 = '01J00000000000000000000009';
    const s = new EntityStore();
    s.retain(E1);
    s.applyServer({ id: E1, head: [E9, E5], values: { body: 'de' } }, 'note');
    s.applyServer({ id: E1, head: [E6, E9], values: { body: 'dea' } }, 'note');
    s.applyServer({ id: E1, head: [E4, E9], values: { body: 'd' } }, 'note');
    expect(s.visible(E1)?.values).toEqual({ body: 'dea' });
    // A state that adds a smaller id to the same head is newer (an edit whose parent had left the head).
    s.applyServer({ id: E1, head: [E6, E9, E2], values: { body: 'dear' } }, 'note');
    expect(s.visible(E1)?.values).toEqual({ body: 'dear' });
    s.applyServer({ id: E1, head: [E6, E9], values: { body: 'dea' } }, 'note');
    expect(s.visible(E1)?.values).toEqual({ body: 'dear' });
  });

  it('takes the Yjs updates of an older state, not its values', () => {
    const E4 = '01J00000000000000000000004';
    const E9 = '01J00000000000000000000009';
    const s = new EntityStore();
    s.textFields = () => new Set(['body']);
    s.retain(E1);
    s.applyServer({ id: E1, head: [E9, E3], values: { body: 'new' } }, 'note', { events: [] });
    // A change that the state above includes arrives late, with its event's update.
    const late = { id: E4, collection: 'note', entity_id: E1, parents: [E1], operations: { body: { yjs: 'bGF0ZQ==' } } };
    s.applyServer({ id: E1, head: [E9, E2], values: { body: 'old' } }, 'note', { events: [late] });
    expect(s.confirmedState(E1)?.values).toEqual({ body: 'new' });
    expect(s.confirmedState(E1)?.texts?.body).toEqual(['bGF0ZQ==']);
  });

  it('overlays pending events and drops them when settled', () => {
    const s = new EntityStore();
    const changes: StoreChange[] = [];
    s.onChange((c) => changes.push(c));
    s.retain(E1);
    s.applyServer({ id: E1, head: [E1], values: { name: 'a', year: 1 } }, 'album');
    s.addPending('1', [{ id: E2, collection: 'album', entity_id: E1, parents: [E1], operations: { year: null, name: 'b' } }]);
    expect(s.visible(E1)).toMatchObject({ values: { name: 'b' }, head: [E2], pending: true });
    expect(s.confirmedState(E1)?.values).toEqual({ name: 'a', year: 1 });
    s.settle('1', false);
    expect(s.visible(E1)).toMatchObject({ values: { name: 'a', year: 1 }, pending: false });
    expect(changes.at(-1)).toMatchObject({ rolledBack: [E1] });
  });

  it('shows a local creation and forgets it when nobody holds it after confirmation', () => {
    const s = new EntityStore();
    s.addPending('1', [{ id: E3, collection: 'album', entity_id: E3, parents: [], operations: { name: 'n' } }]);
    expect(s.pendingIds('album')).toEqual([E3]);
    expect(s.visible(E3)?.values).toEqual({ name: 'n' });
    s.batch(() => {
      s.applyServer({ id: E3, head: [E3], values: { name: 'n' } }, 'album');
      s.settle('1', true);
    });
    expect(s.visible(E3)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('marks a pending delete and notifies once per batch', () => {
    const s = new EntityStore();
    let calls = 0;
    s.onChange(() => calls++);
    s.retain(E1);
    s.batch(() => {
      s.applyServer({ id: E1, head: [E1], values: {} }, 'album');
      s.addPending('7', [{ id: E2, collection: 'album', entity_id: E1, parents: [E1], operations: {}, delete: true }]);
    });
    expect(calls).toBe(1);
    expect(s.visible(E1)?.deleted).toBe(true);
  });
});
