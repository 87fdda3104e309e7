// Prints the minified + gzipped (level 9) size of the client's entry points,
// bundled with esbuild the way an application bundler would (React external).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

for (const [name, entry] of [['core (@ankurah/client)', 'src/index.ts'], ['react (@ankurah/client/react)', 'src/react.ts']]) {
  const res = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, external: ['react'] });
  const code = res.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`${name}: ${code.length} B minified, ${gz} B minified+gzip (${(gz / 1024).toFixed(1)} KiB)`);
}
