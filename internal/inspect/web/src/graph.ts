// An entity's history as a directed graph: events in rows by depth (the
// longest path from the creation), concurrent branches side by side, edges
// from each event to its parents. Plain SVG.
import type { HistoryEvent, Json } from './api.js';
import { s } from './dom.js';

const NW = 200, NH = 62, GX = 24, GY = 36, PAD = 12;

export function short(id: string): string {
  return id.slice(-8);
}

/** Replaces the event ids in a sentence with their short forms, as the graph shows them. */
export function shortIds(text: string): string {
  return text.replace(/\b[0-9A-HJKMNP-TV-Z]{26}\b/g, short);
}

/** What the nodes' colours and borders mean. */
export function legend(): SVGElement {
  const item = (x: number, stroke: string, width: number, label: string) => [
    s('rect', { x, y: 2, width: 14, height: 10, rx: 2, fill: '#fff', stroke, 'stroke-width': width }),
    s('text', { x: x + 18, y: 11, 'font-size': 11, fill: '#667085' }, label),
  ];
  return s('svg', { width: 420, height: 16, 'data-testid': 'history-legend' },
    ...item(0, '#2563eb', 1.5, 'API write'), ...item(90, '#d97706', 1.5, 'SQL write'), ...item(180, '#2563eb', 3, 'more than one parent (joins branches)'));
}

export function graph(events: HistoryEvent[], selected: string | undefined, onClick: (id: string) => void): SVGElement {
  // Events come in id order, parents before children.
  const depth = new Map<string, number>();
  const rows: HistoryEvent[][] = [];
  for (const e of events) {
    let d = 0;
    for (const p of e.parents) d = Math.max(d, (depth.get(p) ?? -1) + 1);
    depth.set(e.id, d);
    (rows[d] ??= []).push(e);
  }
  const width = Math.max(...rows.map((r) => r.length), 1);
  const W = PAD * 2 + width * NW + (width - 1) * GX;
  const H = PAD * 2 + rows.length * NH + Math.max(rows.length - 1, 0) * GY;
  const pos = new Map<string, { x: number; y: number }>();
  rows.forEach((row, d) => {
    const rowW = row.length * NW + (row.length - 1) * GX;
    row.forEach((e, i) => pos.set(e.id, { x: (W - rowW) / 2 + i * (NW + GX), y: PAD + d * (NH + GY) }));
  });
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'data-testid': 'history-graph' });
  svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#98a2b3' }))));
  for (const e of events) {
    const c = pos.get(e.id)!;
    for (const p of e.parents) {
      const pp = pos.get(p);
      if (!pp) continue;
      const x1 = pp.x + NW / 2, y1 = pp.y + NH, x2 = c.x + NW / 2, y2 = c.y;
      // From the child up to its parent: the arrow points at the parent.
      svg.append(s('path', { class: 'edge', 'data-edge': `${e.id}>${p}`, d: `M${x2},${y2} C${x2},${y2 - GY / 2} ${x1},${y1 + GY / 2} ${x1},${y1}`, 'marker-end': 'url(#arrow)' }));
    }
  }
  for (const e of events) {
    const { x, y } = pos.get(e.id)!;
    const cls = ['node', e.origin, e.merge ? 'merge' : '', e.id === selected ? 'selected' : ''].filter(Boolean).join(' ');
    const ops = e.delete ? 'delete' : Object.entries(e.operations).map(([k, v]) => `${k}=${op(v)}`).join(' ');
    const time = new Date(e.time).toISOString().slice(11, 23);
    svg.append(s('g', { class: cls, 'data-event': e.id, 'data-origin': e.origin, 'data-merge': e.merge ? 'true' : undefined, transform: `translate(${x},${y})`, onclick: () => onClick(e.id) },
      s('title', {}, `${e.id}\n${e.origin} ${e.author ?? ''}\nparents: ${e.parents.join(', ') || 'none (creation)'}\n${ops}`),
      s('rect', { width: NW, height: NH, rx: 6 }),
      s('text', { x: 8, y: 15, 'font-weight': 600 }, short(e.id), e.head ? '  ● head' : '', e.merge ? '  ⋈ merge' : ''),
      s('text', { x: 8, y: 30, fill: '#667085' }, `${time} · ${e.origin.toUpperCase()}${e.author ? ' · ' + clip(e.author, 14) : ''}`),
      s('text', { x: 8, y: 46, class: 'mono' }, clip(ops || 'no operations', 27)),
    ));
  }
  return svg;
}

/** An operation as the graph shows it: a ytext field's Yjs update as a text edit. */
export function op(v: Json): string {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'yjs' in v ? '‹text edit›' : JSON.stringify(v);
}

function clip(t: string, n: number): string {
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}
