// @vitest-environment jsdom
// What a page needs to sign a user in and out, through the hooks: who the
// session acts for, a refused or expired token with its code (to show
// "signed out" and ask for a new token), and a write the policy refuses.
import { act, StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isAuthError } from '../src/auth.js';
import { Client } from '../src/client.js';
import { AnkurahProvider, useConnectionState, useMutation } from '../src/react.js';
import { FakeServer } from './fake-server.js';
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

/** Says who is signed in, or why nobody is. */
function Who() {
  const { status, error, welcome, attempt } = useConnectionState();
  if (error && isAuthError(error)) return <p>signed out: {error.code} (attempt {attempt})</p>;
  return (
    <p>
      {status} as {welcome?.subject ?? 'nobody'}
      {error && ` (${error.code})`}
    </p>
  );
}

function Add() {
  const add = useMutation((tx, name: string) => tx.create(Album, { name, year: 2001 }).id);
  return (
    <button onClick={() => void add.mutate('Origin of Symmetry')}>
      {add.status}
      {add.error && `: ${add.error.code}`}
    </button>
  );
}

async function waitText(el: HTMLElement, want: string): Promise<void> {
  const end = Date.now() + 5000;
  while (el.textContent !== want) {
    if (Date.now() > end) throw new Error(`timed out; the page says ${JSON.stringify(el.textContent)}, want ${JSON.stringify(want)}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 2));
    });
  }
}

describe('signing in with the hooks', () => {
  it('useConnectionState: refused and expired tokens with their codes, then who is signed in after a new token', async () => {
    const server = new FakeServer();
    server.schemas.set('album', new Map([['name', 'text'], ['year', 'bigint'], ['rating', 'double precision']]));
    server.auth = (tok) => (tok === 'alice' ? { subject: 'alice' } : { error: { code: tok ? 'token_expired' : 'unauthenticated', message: 'no' } });
    let token = '';
    // No retry within the test unless asked for: each attempt's final state stays on the page.
    client = new Client({ url: 'ws://fake/ws', webSocket: server.factory, token: () => token, backoff: { initialMs: 600_000, maxMs: 600_000 } });
    const el = document.createElement('div');
    root = createRoot(el);
    act(() =>
      root!.render(
        <StrictMode>
          <AnkurahProvider client={client!}>
            <Who />
            <Add />
          </AnkurahProvider>
        </StrictMode>,
      ),
    );
    await waitText(el, 'signed out: unauthenticated (attempt 1)idle');
    token = 'stale';
    await act(() => client!.connection.reauthenticate());
    await waitText(el, 'signed out: token_expired (attempt 2)idle');
    token = 'alice';
    await act(() => client!.connection.reauthenticate());
    await waitText(el, 'connected as aliceidle');

    // A write the policy refuses: the mutation's error carries the code.
    server.failCommits = 'permission_denied';
    act(() => el.querySelector('button')!.click());
    await waitText(el, 'connected as aliceerror: permission_denied');
    expect(client.store.pendingIds('album')).toEqual([]); // rolled back
  });
});
