// Prints the minified + gzipped (level 9) size of the client's entry points,
// bundled with esbuild the way an application bundler would (React external):
// the whole core (every export, the IndexedDB layer included), the core an
// application without durable storage pulls in, and the React hooks.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

const withoutStorage = `export * from './src/index.ts'; export const indexedDBStore = undefined;`;
const entries = [
  ['core (@ankurah/client, with the IndexedDB layer)', { entryPoints: ['src/index.ts'] }],
  ['core without indexedDBStore', { stdin: { contents: withoutStorage, resolveDir: '.', loader: 'ts' } }],
  ['react (@ankurah/client/react)', { entryPoints: ['src/react.ts'] }],
];
for (const [name, input] of entries) {
  const res = await build({ ...input, bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, external: ['react'] });
  const code = res.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`${name}: ${code.length} B minified, ${gz} B minified+gzip (${(gz / 1024).toFixed(1)} KiB)`);
}
