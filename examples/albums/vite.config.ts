import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The page is static: any server can serve dist/. It connects to the Ankurah
// server given as ?server=ws://host:port/ws (default: port 9797 of the host
// that served the page).
export default defineConfig({
  plugins: [react()],
  server: { port: 5173 },
  preview: { port: 4173 },
});
