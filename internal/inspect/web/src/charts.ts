// Line charts of the change stream's samples, drawn as SVG.
import type { Sample } from './api.js';
import { h, num, s } from './dom.js';

export interface Series {
  label: string;
  color: string;
  value: (x: Sample) => number | null;
}

const W = 340, H = 110, L = 46, B = 16, T = 6, R = 6;

/**
 * A chart of the samples over the last maxSeconds (or since the first
 * sample, at least 30 s, while the server is younger), newest at the right.
 */
export function chart(id: string, title: string, samples: Sample[], series: Series[], maxSeconds: number, fmt: (v: number) => string = (v) => num(v, 2)): HTMLElement {
  const now = samples.length > 0 ? Date.parse(samples[samples.length - 1]!.at) : Date.now();
  const span = samples.length > 0 ? (now - Date.parse(samples[0]!.at)) / 1000 : 0;
  const windowSeconds = Math.min(maxSeconds, Math.max(30, Math.ceil(span)));
  const from = now - windowSeconds * 1000;
  const shown = samples.filter((x) => Date.parse(x.at) >= from);
  let max = 0;
  for (const x of shown) for (const se of series) max = Math.max(max, se.value(x) ?? 0);
  const top = max > 0 ? max * 1.15 : 1;
  const px = (t: number) => L + ((t - from) / (windowSeconds * 1000)) * (W - L - R);
  const py = (v: number) => H - B - (v / top) * (H - B - T);
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  // Axes, the top value and the time span.
  svg.append(
    s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#d9dee5' }),
    s('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#d9dee5' }),
    s('text', { x: L - 4, y: T + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, fmt(top)),
    s('text', { x: L - 4, y: H - B, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, '0'),
    s('text', { x: L, y: H - 3, 'font-size': 10, fill: '#667085' }, windowSeconds >= 120 ? `−${Math.round(windowSeconds / 60)} min` : `−${windowSeconds} s`),
    s('text', { x: W - R, y: H - 3, 'text-anchor': 'end', 'font-size': 10, fill: '#667085' }, 'now'),
  );
  const last: string[] = [];
  for (const se of series) {
    // A null value (nothing to measure in that interval) breaks the line.
    let d = '', pen = false;
    for (const x of shown) {
      const v = se.value(x);
      if (v === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${px(Date.parse(x.at)).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    }
    if (d) svg.append(s('path', { d, fill: 'none', stroke: se.color, 'stroke-width': 1.5 }));
    const v = shown.length > 0 ? se.value(shown[shown.length - 1]!) : null;
    last.push(`${se.label} ${v === null ? '–' : fmt(v)}`);
  }
  return h('div', { class: 'chart', 'data-chart': id },
    h('div', { class: 'title' }, title, ' ', h('span', { class: 'mono', 'data-testid': 'chart-' + id + '-last' }, last.join(' · '))),
    svg);
}
