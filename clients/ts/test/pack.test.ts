// The package as npm would publish it: `npm pack` (which builds it), the
// files the tarball holds and its size, a README that stands alone, and the
// tarball consumed as an application would — Node's import and require, and
// TypeScript under each module resolution (bundler, nodenext for ES modules
// and CommonJS, and the old node10).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(pkgDir, 'test', '.pack'); // inside the workspace: react and its types resolve from it
const installed = path.join(work, 'node_modules', '@ankurah', 'client');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

let pack: PackResult;

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(installed, { recursive: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: pkgDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  pack = (JSON.parse(out.slice(out.search(/^\[/m))) as PackResult[])[0]!; // after the build's output (prepack)
  execFileSync('tar', ['-xzf', path.join(work, pack.filename), '-C', installed, '--strip-components=1']);
}, 120_000);

/** Runs node or tsc in the consumer folder; returns stdout (throws with the output on failure). */
function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${x.stdout ?? ''}${x.stderr ?? ''}`);
  }
}

describe('npm pack', () => {
  it('holds exactly the licenses, the README, package.json and the built modules with their types and maps', () => {
    const files = pack.files.map((f) => f.path).sort();
    const modules = (dir: string): string[] =>
      readdirSync(path.join(pkgDir, 'src', dir), { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? modules(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name.slice(0, -3))] : [],
      );
    const want = ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json', ...modules('').flatMap((m) => [`dist/${m}.js`, `dist/${m}.js.map`, `dist/${m}.d.ts`])].sort();
    expect(files).toEqual(want);
  });

  it('stays small', () => {
    // Budgets with room to grow, so that a stray folder or an unminified
    // dependency shows up here. The figures are printed for docs/web.md.
    console.log(`npm pack: ${pack.files.length} files, ${pack.size} B packed, ${pack.unpackedSize} B unpacked`);
    expect(pack.size).toBeLessThan(200_000);
    expect(pack.unpackedSize).toBeLessThan(800_000);
  });

  it('has a README that stands alone on the registry', () => {
    const readme = readFileSync(path.join(installed, 'README.md'), 'utf8');
    const packed = new Set(pack.files.map((f) => f.path));
    for (const [, target] of readme.matchAll(/\]\(([^)]+)\)/g)) {
      if (/^https:\/\//.test(target!)) continue;
      expect(packed.has(target!.replace(/^\.\//, '').replace(/#.*/, '')), `README links to ${target}, which is not in the package`).toBe(true);
    }
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ license: 'MIT OR Apache-2.0', type: 'module', repository: { directory: 'clients/ts' } });
    expect(readFileSync(path.join(installed, 'LICENSE-MIT'), 'utf8')).toContain('MIT License');
    expect(readFileSync(path.join(installed, 'LICENSE-APACHE'), 'utf8')).toContain('Apache License');
  });
});

describe('the packed package, consumed', () => {
  it("loads with Node's import and require", () => {
    writeFileSync(
      path.join(work, 'esm.mjs'),
      `import { Client, indexedDBStore, defineModel, AnkurahError } from '@ankurah/client';
import { useLiveQuery, useSuspenseLiveQuery, useMutation } from '@ankurah/client/react';
import { textOf, smallestEdit } from '@ankurah/client/text';
const M = defineModel('album', { name: { type: 'text' } });
let code = '';
try { new Client({ url: 'ws://127.0.0.1:1/ws', webSocket: () => { throw new Error('x'); } }).query(M, 'nme = 1'); } catch (e) { code = e instanceof AnkurahError ? e.code : String(e); }
console.log([typeof Client, typeof indexedDBStore, typeof useLiveQuery, typeof useSuspenseLiveQuery, typeof useMutation, typeof textOf, smallestEdit('ab', 'acb').join(':'), code].join(' '));
process.exit(0);
`,
    );
    expect(run('node', ['esm.mjs']).trim()).toBe('function function function function function function 1:0:c unknown_field');
    writeFileSync(
      path.join(work, 'cjs.cjs'),
      `const { Client, isPending } = require('@ankurah/client');
const { useEntity } = require('@ankurah/client/react');
const { textOf } = require('@ankurah/client/text');
console.log([typeof Client, typeof isPending, typeof useEntity, typeof textOf].join(' '));
`,
    );
    expect(run('node', ['cjs.cjs']).trim()).toBe('function function function function');
  });

  const consumer = `import { Client, defineModel, indexedDBStore, type View } from '@ankurah/client';
import { useLiveQuery } from '@ankurah/client/react';
import { textOf } from '@ankurah/client/text';
interface AlbumValues { name: string; year: number; notes: string }
const Album = defineModel<AlbumValues>('album', { name: { type: 'text' }, year: { type: 'bigint' }, notes: { type: 'ytext' } });
export const client = new Client({ url: 'ws://127.0.0.1:9797/ws', storage: indexedDBStore() });
export const q = client.query(Album, 'year >= ? ORDER BY name', [2000]);
// @ts-expect-error: the types are live, not any: a misspelled field does not compile
client.query(Album, 'yeer >= ?', [2000]);
export const notesLength: (id: string) => number = (id) => textOf(client, Album, id, 'notes').length; // a Y.Text
// @ts-expect-error: a field the model lacks
textOf(client, Album, 'x', 'nots');
export function useAlbums(): readonly View<AlbumValues>[] {
  return useLiveQuery(Album, 'year >= ?', [2000]).rows;
}
`;

  for (const [name, options, file] of [
    // The package's own declarations are checked once (skipLibCheck false), resolution everywhere.
    ['bundler', { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: false }, 'consumer.ts'],
    ['nodenext, an ES module', { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true }, 'consumer.mts'],
    ['nodenext, CommonJS (require of an ES module)', { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true }, 'consumer.cts'],
    ['node10 (types and typesVersions)', { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '5.0', skipLibCheck: true }, 'consumer.ts'],
  ] as const) {
    it(`type-checks with moduleResolution ${name}`, () => {
      const dir = path.join(work, name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, file), consumer);
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, types: [], ...options }, files: [file] }),
      );
      run('node', [tsc, '-p', path.join(dir, 'tsconfig.json')]);
    }, 60_000);
  }
});
