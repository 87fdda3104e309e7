// @vitest-environment jsdom
// The hooks in a real React tree (react-dom in jsdom), against the fake server.
import { act, Component, StrictMode, Suspense, useState, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { AnkurahError } from '../src/errors.js';
import { defineModel } from '../src/model.js';
import { AnkurahProvider, useConnectionState, useEntity, useLiveQuery, useMutation, useSuspenseEntity, useSuspenseLiveQuery, type Mutation } from '../src/react.js';
import { FakeServer, until } from './fake-server.js';
import { Album } from './models.js';

beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
});

let root: Root | null = null;
let client: Client | null = null;
afterEach(() => {
  act(() => root?.unmount());
  client?.close();
  root = null;
  client = null;
});

function mount(ui: React.ReactNode, seed: [string, number][] = []) {
  const server = new FakeServer();
  server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
  for (const [n, y] of seed) server.sql('album', { name: n, year: y });
  client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, backoff: { initialMs: 5, maxMs: 10 } });
  const el = document.createElement('div');
  root = createRoot(el);
  act(() => root!.render(<StrictMode><AnkurahProvider client={client!}>{ui}</AnkurahProvider></StrictMode>));
  return { server, el, client: client! };
}

/**
 * Waits until the rendered text satisfies cond, letting React work between
 * checks (a suspended render retries from act's queue, which is flushed when
 * each act ends).
 */
async function waitText(el: HTMLElement, cond: (t: string) => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond(el.textContent ?? '')) {
    if (Date.now() > end) throw new Error(`timed out; the page says ${JSON.stringify(el.textContent)}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 2));
    });
  }
}

function Albums({ from }: { from: number }) {
  const { rows, status } = useLiveQuery(Album, 'year >= ? ORDER BY year', [from]);
  return <p>{status}:{rows.map((r) => `${r.name} ${r.year}`).join('; ')}</p>;
}

describe('useLiveQuery', () => {
  it('renders rows, follows changes and argument changes, and subscribes once under StrictMode', async () => {
    function App() {
      const [from, setFrom] = useState(2000);
      return (
        <>
          <button onClick={() => setFrom(1990)}>all</button>
          <Albums from={from} />
        </>
      );
    }
    const { server, el } = mount(<App />, [['Showbiz', 1999], ['Origin of Symmetry', 2001]]);
    await waitText(el, (t) => t.endsWith('live:Origin of Symmetry 2001'));
    server.sql('album', { name: 'Absolution', year: 2003 });
    await waitText(el, (t) => t.includes('Absolution 2003'));
    act(() => el.querySelector('button')!.click());
    await waitText(el, (t) => t.endsWith('live:Showbiz 1999; Origin of Symmetry 2001; Absolution 2003'));
    const subs = server.socket.sent.filter((f) => f.type === 'subscribe');
    const unsubs = server.socket.sent.filter((f) => f.type === 'unsubscribe');
    expect(subs.length - unsubs.length).toBe(1); // exactly one live subscription
  });

  it('shows an optimistic commit immediately', async () => {
    let add: () => void = () => {};
    function App() {
      const { rows } = useLiveQuery(Album, 'ORDER BY name');
      const c = client!;
      add = () => void c.create(Album, { name: 'Drones', year: 2015 }).catch(() => {}); // the test ends first
      return <p>{rows.map((r) => r.name).join(',')}</p>;
    }
    const { el } = mount(<App />, [['Showbiz', 1999]]);
    await waitText(el, (t) => t === 'Showbiz');
    act(() => add());
    expect(el.textContent).toBe('Drones,Showbiz'); // before any answer
  });
});

describe('useEntity and useConnectionState', () => {
  it('shows one entity, null once it is deleted, and the connection status', async () => {
    let id = '';
    function App() {
      const a = useEntity(Album, id);
      const { status } = useConnectionState();
      return <p>{status}|{a === undefined ? 'loading' : a === null ? 'none' : a.name}</p>;
    }
    const { server, el } = mount(<p />, []);
    id = server.sql('album', { name: 'Showbiz', year: 1999 });
    act(() => root!.render(<AnkurahProvider client={client!}><App /></AnkurahProvider>));
    await waitText(el, (t) => t === 'connected|Showbiz');
    server.apply_delete(id);
    await waitText(el, (t) => t === 'connected|none');
    server.down = true;
    act(() => server.dropAll());
    await waitText(el, (t) => t.startsWith('reconnecting|'));
  });
});

class Boundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    const e = this.state.error;
    if (e) return <p>boundary:{e instanceof AnkurahError ? `${e.code}:${e.field ?? ''}` : String(e)}</p>;
    return this.props.children;
  }
}

describe('useLiveQuery options', () => {
  it('subscribes only while enabled', async () => {
    let setOn: (b: boolean) => void = () => {};
    function App() {
      const [on, set] = useState(false);
      setOn = set;
      const { rows, status } = useLiveQuery(Album, 'ORDER BY year', [], { enabled: on });
      return <p>{status}:{rows.map((r) => r.name).join(',')}</p>;
    }
    const { server, el } = mount(<App />, [['Showbiz', 1999]]);
    await waitText(el, (t) => t === 'idle:');
    await act(async () => {
      await until(() => server.sockets.length === 1 && server.socket.welcomed);
    });
    expect(server.socket.sent.some((f) => f.type === 'subscribe')).toBe(false);
    act(() => setOn(true));
    await waitText(el, (t) => t === 'live:Showbiz');
    act(() => setOn(false));
    await waitText(el, (t) => t === 'idle:');
    await act(async () => {
      await until(() => server.socket.sent.some((f) => f.type === 'unsubscribe'));
    });
  });

  it('starts a new live query when the model changes', async () => {
    const Other = defineModel<{ title: string }>('book', { title: { type: 'text' } });
    function Switch({ model }: { model: typeof Album | typeof Other }) {
      const { rows, status } = useLiveQuery(model as typeof Album);
      return <p>{status}:{rows.map((r) => (r as unknown as { name?: string; title?: string }).name ?? (r as unknown as { title: string }).title).join(',')}</p>;
    }
    let pick: (m: typeof Album | typeof Other) => void = () => {};
    function Host() {
      const [model, set] = useState<typeof Album | typeof Other>(Album);
      pick = set;
      return <Switch model={model} />;
    }
    const { server, el } = mount(<Host />, [['Showbiz', 1999]]);
    server.schemas.set('book', new Map([['title', 'text']]));
    server.sql('book', { title: 'Dune' });
    await waitText(el, (t) => t === 'live:Showbiz');
    act(() => pick(Other));
    await waitText(el, (t) => t === 'live:Dune');
    const subs = server.socket.sent.filter((f) => f.type === 'subscribe').map((f) => f.collection);
    expect(subs).toEqual(['album', 'book']);
  });

  it('throws a query naming a field the model lacks to the error boundary, coded', async () => {
    function Bad() {
      const { rows } = useLiveQuery(Album, 'yeer >= ?' as string, [2000]);
      return <p>{rows.length}</p>;
    }
    const { el } = mount(<Boundary><Bad /></Boundary>);
    await waitText(el, (t) => t === 'boundary:unknown_field:yeer');
  });
});

describe('Suspense', () => {
  it('suspends until the rows are there, then follows changes', async () => {
    function Albums() {
      const { rows, status } = useSuspenseLiveQuery(Album, 'year >= ? ORDER BY year', [2000]);
      return <p>{status}:{rows.map((r) => r.name).join(',')}</p>;
    }
    const { server, el } = mount(<Suspense fallback={<p>waiting</p>}><Albums /></Suspense>, [['Showbiz', 1999], ['Origin of Symmetry', 2001]]);
    expect(el.textContent).toBe('waiting');
    await waitText(el, (t) => t === 'live:Origin of Symmetry');
    server.sql('album', { name: 'Absolution', year: 2003 });
    await waitText(el, (t) => t === 'live:Origin of Symmetry,Absolution');
    // One live subscription, whatever StrictMode and the suspended render did.
    const subs = server.socket.sent.filter((f) => f.type === 'subscribe').length;
    const unsubs = server.socket.sent.filter((f) => f.type === 'unsubscribe').length;
    expect(subs - unsubs).toBe(1);
  });

  it('throws a refused query to the error boundary with its code', async () => {
    function Albums() {
      const { rows } = useSuspenseLiveQuery(Album, 'year >= ?', []); // an argument short: the server refuses
      return <p>{rows.length}</p>;
    }
    const { el } = mount(<Boundary><Suspense fallback={<p>waiting</p>}><Albums /></Suspense></Boundary>);
    await waitText(el, (t) => t === "boundary:bad_argument:", 3000);
  });

  it('useSuspenseEntity gives the entity, or null', async () => {
    let ids: string[] = [];
    function One({ id }: { id: string }) {
      const a = useSuspenseEntity(Album, id);
      return <span>{a ? a.name : 'none'};</span>;
    }
    const { server, el } = mount(<p />);
    ids = [server.sql('album', { name: 'Showbiz', year: 1999 }), '01J00000000000000000000000'];
    act(() => root!.render(<AnkurahProvider client={client!}><Suspense fallback={<p>waiting</p>}>{ids.map((i) => <One key={i} id={i} />)}</Suspense></AnkurahProvider>));
    await waitText(el, (t) => t === 'Showbiz;none;');
  });
});

describe('useMutation', () => {
  it('is pending until the server confirms, then success with the data; an error can be retried', async () => {
    let m: Mutation<[string, number], string> | null = null;
    function App() {
      m = useMutation((tx, name: string, year: number) => tx.create(Album, { name, year }).id);
      const { rows } = useLiveQuery(Album, 'ORDER BY year');
      return <p>{m.status}|{m.error?.code ?? ''}|{rows.map((r) => r.name).join(',')}</p>;
    }
    const { server, el } = mount(<App />);
    await waitText(el, (t) => t === 'idle||');
    server.holdCommits = true;
    act(() => void m!.mutate('Showbiz', 1999));
    await waitText(el, (t) => t === 'pending||Showbiz'); // shown at once, not yet confirmed
    act(() => server.releaseCommits());
    await waitText(el, (t) => t === 'success||Showbiz');
    expect(m!.data).toBe([...server.entities.keys()][0]);

    server.failCommits = 'constraint_violation';
    act(() => void m!.mutate('Drones', 2015));
    await waitText(el, (t) => t === 'error|constraint_violation|Showbiz'); // rolled back
    server.failCommits = null;
    act(() => void m!.retry());
    await waitText(el, (t) => t === 'success||Showbiz,Drones');
    expect([...server.entities.values()].map((e) => e.values.name).sort()).toEqual(['Drones', 'Showbiz']);
  });

  it('throws to the error boundary with throwOnError', async () => {
    let m: Mutation<[], void> | null = null;
    function App() {
      m = useMutation((tx) => void tx.create(Album, { name: 'x' }), { throwOnError: true });
      return <p>{m.status}</p>;
    }
    const { server, el } = mount(<Boundary><App /></Boundary>);
    await waitText(el, (t) => t === 'idle');
    server.failCommits = 'type_mismatch';
    act(() => void m!.mutate());
    await waitText(el, (t) => t === 'boundary:type_mismatch:');
  });
});
