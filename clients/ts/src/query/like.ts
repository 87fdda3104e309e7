/**
 * LIKE as Postgres does it: % matches any sequence of characters, _ exactly
 * one character (a code point, not a UTF-16 unit), and a backslash makes the
 * next character literal. Port of Go's query/like.go.
 */

type LikeTok = { kind: 'lit'; chars: string[] } | { kind: 'one' } | { kind: 'any' };

/** Splits a pattern into literal runs, _ and %; null when it ends with a lone backslash. */
export function compileLike(pattern: string): LikeTok[] | null {
  const toks: LikeTok[] = [];
  let lit: string[] = [];
  const flush = (): void => {
    if (lit.length > 0) toks.push({ kind: 'lit', chars: lit });
    lit = [];
  };
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      if (i + 1 >= chars.length) return null;
      lit.push(chars[++i]!);
    } else if (c === '%') {
      flush();
      if (toks.at(-1)?.kind !== 'any') toks.push({ kind: 'any' });
    } else if (c === '_') {
      flush();
      toks.push({ kind: 'one' });
    } else {
      lit.push(c);
    }
  }
  flush();
  return toks;
}

/** Matches s against a compiled pattern, backtracking only to the last %. */
export function matchLike(toks: readonly LikeTok[], s: string): boolean {
  const cs = Array.from(s);
  let ti = 0;
  let si = 0;
  let starT = -1;
  let starS = 0;
  for (;;) {
    const t = toks[ti];
    if (t) {
      if (t.kind === 'any') {
        starT = ti++;
        starS = si;
        continue;
      }
      if (t.kind === 'one' && si < cs.length) {
        si++;
        ti++;
        continue;
      }
      if (t.kind === 'lit' && t.chars.every((c, k) => cs[si + k] === c)) {
        si += t.chars.length;
        ti++;
        continue;
      }
    } else if (si === cs.length) {
      return true;
    }
    if (starT < 0 || starS >= cs.length) return false;
    starS++;
    ti = starT + 1;
    si = starS;
  }
}
