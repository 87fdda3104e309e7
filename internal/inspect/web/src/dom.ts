// A few DOM helpers: the page has no framework.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** h('td', {class: 'num'}, 1) makes an element; on* attributes are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  set(el, attrs);
  append(el, children);
  return el;
}

const svgNS = 'http://www.w3.org/2000/svg';
export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(svgNS, tag) as SVGElement;
  set(el, attrs);
  append(el, children);
  return el;
}

function set(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces what el holds. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function table(head: string[], rows: Node[], numeric: number[] = []): HTMLTableElement {
  return h('table', {}, h('thead', {}, h('tr', {}, ...head.map((t, i) => h('th', { class: numeric.includes(i) ? 'num' : undefined }, t)))), h('tbody', {}, ...rows));
}

export function num(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function bytes(n: number): string {
  if (n < 1024) return `${num(n)} B`;
  if (n < 1 << 20) return `${num(n / 1024, 1)} KiB`;
  return `${num(n / (1 << 20), 1)} MiB`;
}

export function age(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${num(seconds / 3600, 1)} h`;
}

export function json(v: unknown): string {
  return JSON.stringify(v);
}
