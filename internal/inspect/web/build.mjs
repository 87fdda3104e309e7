// Builds the inspector page's script into ../dist/inspector.js (embedded in
// the Go binary with index.html and style.css from here, by
// internal/inspect/assets.go): src/main.ts bundled with the TypeScript
// client's sources by esbuild.
// `node build.mjs --check` builds in memory and fails when ../dist differs
// (make ts-test runs it: the committed build must match its sources).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const check = process.argv.includes('--check');

const res = await build({
  entryPoints: [path.join(here, 'src/main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  legalComments: 'none',
  charset: 'utf8',
  write: false,
  outfile: path.join(dist, 'inspector.js'),
  alias: { '@ankurah/client': path.join(here, '../../../clients/ts/src/index.ts') },
  logLevel: 'warning',
});
const files = new Map([['inspector.js', res.outputFiles[0].contents]]);
if (check) {
  const stale = [...files].filter(([name, b]) => {
    const f = path.join(dist, name);
    return !existsSync(f) || !Buffer.from(b).equals(readFileSync(f));
  });
  if (stale.length > 0) {
    console.error(`internal/inspect/dist is not the build of internal/inspect/web (${stale.map(([n]) => n).join(', ')}): run npm run build -w @ankurah/inspector and commit it`);
    process.exit(1);
  }
  console.log('internal/inspect/dist matches its sources');
} else {
  mkdirSync(dist, { recursive: true });
  for (const [name, b] of files) writeFileSync(path.join(dist, name), b);
  console.log(`built internal/inspect/dist (inspector.js ${(files.get('inspector.js').length / 1024).toFixed(1)} KiB)`);
}
