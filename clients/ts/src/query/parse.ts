/**
 * The query language parser: a port of Go's query/lex.go and parse.go
 * (docs/query-language.md, "Syntax"). It accepts exactly the same language
 * and builds the same tree; error offsets count UTF-16 code units of the
 * text, where the server counts bytes.
 */
import { AnkurahError } from '../errors.js';
import type { Value } from './value.js';

export type Op = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** A literal, or the n-th `?` (1-based) while it is unbound. */
export type Operand = { readonly value: Value; readonly param?: undefined } | { readonly param: number; readonly value?: undefined };

export type Expr =
  | { readonly k: 'bool'; readonly value: boolean }
  | { readonly k: 'and'; readonly terms: readonly Expr[] }
  | { readonly k: 'or'; readonly terms: readonly Expr[] }
  | { readonly k: 'not'; readonly x: Expr }
  | { readonly k: 'cmp'; readonly path: readonly string[]; readonly op: Op; readonly value: Operand }
  | { readonly k: 'in'; readonly path: readonly string[]; readonly not: boolean; readonly values: readonly Operand[] }
  | { readonly k: 'isnull'; readonly path: readonly string[]; readonly not: boolean }
  | { readonly k: 'between'; readonly path: readonly string[]; readonly not: boolean; readonly low: Operand; readonly high: Operand }
  | { readonly k: 'like'; readonly path: readonly string[]; readonly not: boolean; readonly pattern: Operand };

export interface SortKey {
  readonly path: readonly string[];
  readonly desc: boolean;
}

/** A parsed query. */
export interface Query {
  readonly where: Expr | null;
  readonly orderBy: readonly SortKey[];
  readonly limit: Operand | null;
  /** The number of `?` in the text. */
  readonly params: number;
}

export const MAX_LENGTH = 64 * 1024;
export const MAX_DEPTH = 64;

type TokKind = 'eof' | 'word' | 'ident' | 'string' | 'int' | 'float' | 'param' | 'op' | '(' | ')' | ',' | '.';

interface Token {
  kind: TokKind;
  pos: number;
  end: number;
  text: string;
  op?: Op;
  num?: number;
}

const RESERVED = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'BETWEEN', 'LIKE', 'TRUE', 'FALSE']);

/** Keywords are case-insensitive in ASCII only (no Unicode folding). */
function upper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

function is(t: Token, kw: string): boolean {
  return t.kind === 'word' && upper(t.text) === kw;
}

function isReserved(word: string): boolean {
  return RESERVED.has(upper(word));
}

const identPart = /[_\p{L}\p{Nd}]/u;

function parseError(offset: number, message: string): AnkurahError {
  return new AnkurahError('parse_error', `query: parse_error at offset ${offset}: ${message}`, offset);
}

/** Punctuation, `?`, the operators and words (a name or a keyword). */
const SIMPLE = /[(),.]|(\?)|(<>|!=|<=|>=|[=<>])|[_\p{L}][_\p{L}\p{Nd}]*/uy;

/** Scans the token at or after pos (stateless, so the parser can peek). */
function lex(src: string, pos: number): Token {
  while (pos < src.length && ' \t\n\r'.includes(src[pos]!)) pos++;
  if (pos >= src.length) return { kind: 'eof', pos, end: pos, text: '' };
  const c = src[pos]!;
  if (c === "'") return lexQuoted(src, pos, c, 'string');
  if (c === '"') return lexQuoted(src, pos, c, 'ident');
  if (/\d/.test(c === '-' ? src[pos + 1] ?? '' : c)) return lexNumber(src, pos);
  SIMPLE.lastIndex = pos;
  const m = SIMPLE.exec(src);
  if (!m) throw parseError(pos, `unexpected character ${JSON.stringify(String.fromCodePoint(src.codePointAt(pos)!))}`);
  const [text, param, op] = m;
  const t = { pos, end: pos + text.length, text };
  if (param) return { kind: 'param', ...t };
  if (op) return { kind: 'op', ...t, op: op === '!=' ? '<>' : (op as Op) };
  return { kind: text.length === 1 && '(),.'.includes(text) ? (text as TokKind) : 'word', ...t };
}

/** A quoted string or name: its quote doubled inside stands for itself (so the closing one is alone). */
const QUOTED = { "'": /'((?:[^']|'')*)'(?!')/y, '"': /"((?:[^"]|"")*)"(?!")/y };

function lexQuoted(src: string, pos: number, q: "'" | '"', kind: 'string' | 'ident'): Token {
  const what = kind === 'ident' ? 'quoted identifier' : 'string';
  const re = QUOTED[q];
  re.lastIndex = pos;
  const m = re.exec(src);
  const nul = (m ? m[0] : src.slice(pos)).indexOf('\0');
  if (nul >= 0) throw parseError(pos + nul, `${what} contains a NUL character`);
  if (!m) throw parseError(pos, `unterminated ${what}: expected a closing ${q}`);
  const text = m[1]!.replaceAll(q + q, q);
  if (kind === 'ident' && text === '') throw parseError(pos, 'expected a name between the double quotes');
  return { kind, pos, end: re.lastIndex, text };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A number: an integer, a fraction and an exponent, each but the first optional. */
const NUMBER = /-?\d+(\.(\d*))?([eE][-+]?(\d*))?/y;

function lexNumber(src: string, pos: number): Token {
  NUMBER.lastIndex = pos;
  const [text, frac, fracDigits, exp, expDigits] = NUMBER.exec(src)!;
  const end = pos + text.length;
  if (frac !== undefined && !fracDigits) throw parseError(end - (exp?.length ?? 0), 'expected digits after the decimal point');
  if (exp !== undefined && !expDigits) throw parseError(end, 'expected digits in the exponent');
  if (end < src.length) {
    const r = String.fromCodePoint(src.codePointAt(end)!);
    if (identPart.test(r) || r === '.') throw parseError(end, `malformed number: unexpected ${JSON.stringify(r)} after ${text}`);
  }
  if (frac === undefined && exp === undefined) {
    const big = BigInt(text);
    if (big >= INT64_MIN && big <= INT64_MAX) return { kind: 'int', pos, end, text, num: Number(big) };
    // An integer beyond 64 bits is an exact numeric, like a decimal.
  }
  if (exp && Math.abs(Number(exp.slice(1))) > 131072) throw parseError(pos, `number ${text} is out of range`);
  return { kind: 'float', pos, end, text };
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of query';
    case 'string':
      return `string '${t.text}'`;
    case 'ident':
      return `identifier "${t.text}"`;
    case 'int':
    case 'float':
      return `number ${t.text}`;
    case 'param':
      return 'placeholder ?';
  }
  return JSON.stringify(t.text);
}

/** Parses a query. Placeholders stay unbound; see bind(). Throws AnkurahError. */
export function parse(src: string): Query {
  if (src.length > MAX_LENGTH) throw new AnkurahError('too_long', `query is ${src.length} characters long; the limit is ${MAX_LENGTH}`, MAX_LENGTH);
  return new Parser(src).query();
}

class Parser {
  #tok: Token = { kind: 'eof', pos: 0, end: 0, text: '' };
  #depth = 0;
  #params = 0;

  readonly #src: string;

  constructor(src: string) {
    this.#src = src;
  }

  #advance(): void {
    this.#tok = lex(this.#src, this.#tok.end);
  }

  #peek(): Token {
    try {
      return lex(this.#src, this.#tok.end);
    } catch {
      return { kind: 'eof', pos: this.#tok.end, end: this.#tok.end, text: '' };
    }
  }

  #expected(what: string): AnkurahError {
    return parseError(this.#tok.pos, `expected ${what}, found ${describe(this.#tok)}`);
  }

  #enter(): void {
    if (++this.#depth > MAX_DEPTH) {
      throw new AnkurahError('too_deep', `parentheses and NOT nest more than ${MAX_DEPTH} levels deep`, this.#tok.pos);
    }
  }

  #atOrderBy(): boolean {
    return is(this.#tok, 'ORDER') && is(this.#peek(), 'BY');
  }

  #atLimit(): boolean {
    if (!is(this.#tok, 'LIMIT')) return false;
    const k = this.#peek().kind;
    return k === 'int' || k === 'float' || k === 'param';
  }

  query(): Query {
    this.#advance();
    let where: Expr | null = null;
    const orderBy: SortKey[] = [];
    let limit: Operand | null = null;
    if (this.#tok.kind !== 'eof' && !this.#atOrderBy() && !this.#atLimit()) where = this.#or();
    if (this.#atOrderBy()) {
      this.#advance();
      this.#advance();
      for (;;) {
        const path = this.#path('a field name to order by');
        let desc = false;
        if (is(this.#tok, 'DESC') || is(this.#tok, 'ASC')) {
          desc = is(this.#tok, 'DESC');
          this.#advance();
        }
        orderBy.push({ path, desc });
        if (this.#tok.kind !== ',') break;
        this.#advance();
      }
    }
    if (this.#atLimit()) {
      this.#advance();
      if (this.#tok.kind === 'param') {
        limit = this.#param();
      } else if (this.#tok.kind === 'int' && this.#tok.num! >= 0) {
        limit = { value: { t: 'int', n: this.#tok.num! } };
      } else {
        throw parseError(this.#tok.pos, `LIMIT must be a non-negative integer, found ${describe(this.#tok)}`);
      }
      this.#advance();
    }
    if (this.#tok.kind !== 'eof') {
      if (limit) throw this.#expected('end of query after LIMIT');
      if (orderBy.length > 0) throw this.#expected("',', ASC, DESC, LIMIT or end of query");
      if (this.#tok.kind === ')') throw parseError(this.#tok.pos, "unbalanced ')'");
      throw this.#expected('AND, OR, ORDER BY, LIMIT or end of query');
    }
    return { where, orderBy, limit, params: this.#params };
  }

  #or(): Expr {
    const terms = [this.#and()];
    while (is(this.#tok, 'OR')) {
      this.#advance();
      terms.push(this.#and());
    }
    return terms.length === 1 ? terms[0]! : { k: 'or', terms: terms.flatMap((t) => (t.k === 'or' ? t.terms : [t])) };
  }

  #and(): Expr {
    const terms = [this.#not()];
    while (is(this.#tok, 'AND')) {
      this.#advance();
      terms.push(this.#not());
    }
    return terms.length === 1 ? terms[0]! : { k: 'and', terms: terms.flatMap((t) => (t.k === 'and' ? t.terms : [t])) };
  }

  #not(): Expr {
    if (!is(this.#tok, 'NOT')) return this.#primary();
    this.#enter();
    this.#advance();
    const x = this.#not();
    this.#depth--;
    return { k: 'not', x };
  }

  #primary(): Expr {
    const t = this.#tok;
    if (t.kind === '(') {
      this.#enter();
      const open = t.pos;
      this.#advance();
      const x = this.#or();
      if (this.#tok.kind !== ')') {
        if (this.#tok.kind === 'eof') throw parseError(this.#tok.pos, `expected ')' to close the '(' at offset ${open}`);
        throw this.#expected("AND, OR or ')'");
      }
      this.#depth--;
      this.#advance();
      return x;
    }
    if (is(t, 'TRUE') || is(t, 'FALSE')) {
      this.#advance();
      return { k: 'bool', value: is(t, 'TRUE') };
    }
    if ((t.kind === 'word' && isReserved(t.text)) || (t.kind !== 'word' && t.kind !== 'ident')) {
      throw this.#expected("a field name, TRUE, FALSE, NOT or '('");
    }
    return this.#predicate(this.#path('a field name'));
  }

  #path(what: string): string[] {
    const steps: string[] = [];
    for (;;) {
      const t = this.#tok;
      if (t.kind === 'ident' || (t.kind === 'word' && !isReserved(t.text))) steps.push(t.text);
      else throw this.#expected(steps.length === 0 ? what : "a key name after '.'");
      this.#advance();
      if (this.#tok.kind !== '.') return steps;
      this.#advance();
    }
  }

  #predicate(path: string[]): Expr {
    if (this.#tok.kind === 'op') {
      const op = this.#tok.op!;
      this.#advance();
      return { k: 'cmp', path, op, value: this.#operand() };
    }
    if (is(this.#tok, 'IS')) {
      this.#advance();
      const not = is(this.#tok, 'NOT');
      if (not) this.#advance();
      if (!is(this.#tok, 'NULL')) throw this.#expected(not ? 'NULL after IS NOT' : 'NULL or NOT NULL after IS');
      this.#advance();
      return { k: 'isnull', path, not };
    }
    const not = is(this.#tok, 'NOT');
    if (not) this.#advance();
    if (is(this.#tok, 'IN')) {
      this.#advance();
      if (this.#tok.kind !== '(') throw this.#expected("'(' after IN");
      const values: Operand[] = [];
      for (;;) {
        this.#advance();
        values.push(this.#operand());
        const k = this.#tok.kind as TokKind; // advanced: TypeScript still sees '('
        if (k === ')') {
          this.#advance();
          return { k: 'in', path, not, values };
        }
        if (k !== ',') throw this.#expected("',' or ')' in the IN list");
      }
    }
    if (is(this.#tok, 'BETWEEN')) {
      this.#advance();
      const low = this.#operand();
      if (!is(this.#tok, 'AND')) throw this.#expected('AND in BETWEEN … AND …');
      this.#advance();
      return { k: 'between', path, not, low, high: this.#operand() };
    }
    if (is(this.#tok, 'LIKE')) {
      this.#advance();
      return { k: 'like', path, not, pattern: this.#operand() };
    }
    if (not) throw this.#expected('IN, BETWEEN or LIKE after NOT');
    throw this.#expected(`an operator after ${path.join('.')}`);
  }

  #operand(): Operand {
    const t = this.#tok;
    let o: Operand;
    if (t.kind === 'param') o = this.#param();
    else if (t.kind === 'string') o = { value: { t: 'text', s: t.text } };
    else if (t.kind === 'int') o = { value: { t: 'int', n: t.num! } };
    else if (t.kind === 'float') o = { value: { t: 'num', s: t.text } }; // a decimal literal is an exact numeric
    else if (is(t, 'TRUE') || is(t, 'FALSE')) o = { value: { t: 'bool', b: is(t, 'TRUE') } };
    else if (is(t, 'NULL')) o = { value: { t: 'null' } };
    else throw this.#expected('a value');
    this.#advance();
    return o;
  }

  #param(): Operand {
    return { param: ++this.#params };
  }
}
