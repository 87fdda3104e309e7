// Prints the minified + gzipped (level 9) size of the client's entry points,
// bundled with esbuild the way an application bundler would (React external):
// the whole core (every export, the IndexedDB layer included), the core an
// application without durable storage pulls in, the React hooks, and the
// collaborative text entry point with and without yjs itself (a peer
// dependency: the application's own copy, shared with its editor bindings).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

const withoutStorage = `export * from './src/index.ts'; export const indexedDBStore = undefined;`;
const entries = [
  ['core (@ankurah/client, with the IndexedDB layer)', { entryPoints: ['src/index.ts'] }],
  ['core without indexedDBStore', { stdin: { contents: withoutStorage, resolveDir: '.', loader: 'ts' } }],
  ['react (@ankurah/client/react)', { entryPoints: ['src/react.ts'] }],
  ['text (@ankurah/client/text), yjs included', { entryPoints: ['src/text.ts'] }],
  ['text (@ankurah/client/text), yjs not counted', { entryPoints: ['src/text.ts'], external: ['react', 'yjs'] }],
  ['core + text + yjs (an app that edits text)', { stdin: { contents: `export * from './src/index.ts'; export * from './src/text.ts';`, resolveDir: '.', loader: 'ts' } }],
  ['yjs alone (what text adds)', { stdin: { contents: `export * from 'yjs';`, resolveDir: '.', loader: 'js' } }],
];
for (const [name, input] of entries) {
  const res = await build({ bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, external: ['react'], ...input });
  const code = res.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`${name}: ${code.length} B minified, ${gz} B minified+gzip (${(gz / 1024).toFixed(1)} KiB)`);
}
