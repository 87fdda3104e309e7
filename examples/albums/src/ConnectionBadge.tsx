import { useConnectionState } from '@ankurah/client/react';
import { useEffect, useState } from 'react';

/** Says at a glance whether the page is live, and if not, what it is doing about it. */
export function ConnectionBadge({ server }: { server: string }) {
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
    <span className={`badge badge-${state.status}`} data-testid="connection" data-status={state.status} title={`${server}${state.error ? ` — ${state.error.message}` : ''}`}>
      <span className="dot" aria-hidden /> {text}
    </span>
  );
}

/** The current time, ticking every second while active (for the retry countdown). */
function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return now;
}
