import { Client } from '@ankurah/client';
import { AnkurahProvider } from '@ankurah/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import './styles.css';

/** The server: ?server=ws://host:port/ws, or port 9797 of the page's host. */
function serverURL(): string {
  const param = new URLSearchParams(location.search).get('server');
  if (param) return param;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname || '127.0.0.1'}:9797/ws`;
}

const client = new Client({ url: serverURL(), clientName: 'albums-example/0.1' });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AnkurahProvider client={client}>
      <App server={serverURL()} />
    </AnkurahProvider>
  </StrictMode>,
);
