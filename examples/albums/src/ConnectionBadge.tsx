import { isAuthError } from '@ankurah/client';
import { useConnectionState, useStorageState } from '@ankurah/client/react';
import { useEffect, useState } from 'react';

/** Says at a glance whether the page is live, and if not, what it is doing about it. */
export function ConnectionBadge() {
  const state = useConnectionState();
  const now = useNow(state.retryAt !== undefined);
  let text: string;
  switch (state.status) {
    case 'connected':
      text = 'Live';
      break;
    case 'connecting':
    case 'reconnecting': {
      const wait = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - now) / 1000)) : 0;
      const verb = state.status === 'connecting' ? 'Connecting' : 'Reconnecting';
      text = state.attempt > 0 ? `${verb}… (attempt ${state.attempt}${wait > 0 ? `, next in ${wait}s` : ''})` : `${verb}…`;
      break;
    }
    case 'closed':
      text = 'Closed';
  }
  return (
    <span className={`badge badge-${state.status}`} data-testid="connection" data-status={state.status} data-attempt={state.attempt}>
      <span className="dot" aria-hidden /> {text}
    </span>
  );
}

/**
 * While the server cannot be reached: its address and the last error, on
 * the page (the badge only says that something is wrong). Writes made
 * meanwhile are kept and sent when it is back.
 */
export function ConnectionProblem() {
  const state = useConnectionState();
  const storage = useStorageState();
  return (
    <>
      {state.status !== 'connected' && state.error && !isAuthError(state.error) && ( // a refused token: see Account
        <p className="problem" role="status" data-testid="connection-error" data-code={state.error.code}>
          {state.error.message.includes(state.url) ? '' : `${state.url}: `}
          {state.error.message} ({state.error.code}). Changes you make are kept on this device and sent when the server is
          back.
        </p>
      )}
      {storage.error && (
        <p className="problem" role="status" data-testid="storage-error" data-code={storage.error.code}>
          Local storage: {storage.error.message} ({storage.error.code})
        </p>
      )}
    </>
  );
}

/**
 * The current time, re-rendering every second while active (for the retry
 * countdown). It is read at each render, so a render caused by a new state
 * (a new retryAt) counts down from the right time, not from the last tick.
 */
function useNow(active: boolean): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [active]);
  return Date.now();
}
