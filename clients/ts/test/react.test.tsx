// @vitest-environment jsdom
// The hooks in a real React tree (react-dom in jsdom), against the fake server.
import { act, StrictMode, useState } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client.js';
import { AnkurahProvider, useConnectionState, useEntity, useLiveQuery } from '../src/react.js';
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

/** Waits (inside act) until the rendered text satisfies cond. */
async function waitText(el: HTMLElement, cond: (t: string) => boolean): Promise<void> {
  await act(async () => {
    await until(() => cond(el.textContent ?? ''));
  });
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
