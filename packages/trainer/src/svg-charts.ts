/**
 * Inline-SVG charts of the report and the comparison page: strings, no script, no external file. Axes carry round
 * ticks (`chart-ticks.ts`); class axes show names when there are few classes and class indices otherwise, the names
 * then in tooltips (`<title>`).
 */
import type { ReliabilityBin } from './calibration.js';
import { formatTick, logTicks, niceTicks } from './chart-ticks.js';
import { formatPercent } from './evaluation.js';

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

/** A class axis shows every name up to this many classes, class indices at round positions beyond. */
export const MAX_NAMED_CLASSES = 30;
/** Longer names are cut (with "…") on an axis; the full name is in the tooltip. */
const MAX_LABEL_CHARACTERS = 14;

/** Escapes text for HTML and SVG (`&`, `<`, `>`, quotes). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 720, height: 310, left: 56, right: 56, top: 34, bottom: 44 };

/** One tick of an axis: pixel position, text, optional tooltip (the full class name). */
export interface Tick {
  at: number;
  text: string;
  title?: string;
}

/** A value → pixel mapping with its ticks (the domain is the first and last tick). */
export interface Scale {
  ticks: Tick[];
  position(value: number): number;
}

const number = (value: number): string => value.toFixed(2).replace(/\.?0+$/, '');

/** A linear scale over nice ticks covering `[min, max]`; `percent` labels a fraction axis 0%…100%. */
export function linearScale(min: number, max: number, pixels: [number, number], options: { percent?: boolean; maxIntervals?: number } = {}): Scale {
  const factor = options.percent ? 100 : 1;
  const values = niceTicks(min * factor, max * factor, options.maxIntervals ?? 5);
  const lo = values[0];
  const hi = values[values.length - 1];
  const position = (value: number) => pixels[0] + ((value * factor - lo) / (hi - lo)) * (pixels[1] - pixels[0]);
  const ticks = values.map((v) => ({ at: position(v / factor), text: `${formatTick(v)}${options.percent ? '%' : ''}` }));
  return { ticks, position };
}

/** A log-10 scale over `logTicks(min, max)` (values below `min` are drawn at `min`). */
export function logScale(min: number, max: number, pixels: [number, number]): Scale {
  const values = logTicks(min, max);
  const lo = Math.log10(values[0]);
  const hi = Math.log10(values[values.length - 1]);
  const position = (value: number) => pixels[0] + ((Math.log10(Math.max(value, values[0])) - lo) / (hi - lo || 1)) * (pixels[1] - pixels[0]);
  return { ticks: values.map((v) => ({ at: position(v), text: formatTick(v) })), position };
}

function cut(text: string): string {
  return text.length > MAX_LABEL_CHARACTERS ? `${text.slice(0, MAX_LABEL_CHARACTERS - 1)}…` : text;
}

/**
 * Ticks of a class axis, positions `0 … n − 1` in display order: every (cut) name when `n ≤ MAX_NAMED_CLASSES`,
 * otherwise the class indices `classIds[p]` at round positions; the full name is the tooltip.
 */
export function classTicks(names: string[], at: (position: number) => number, classIds?: number[]): { ticks: Tick[]; named: boolean } {
  const n = names.length;
  if (n <= MAX_NAMED_CLASSES) return { ticks: names.map((name, p) => ({ at: at(p), text: cut(name), title: name })), named: true };
  const positions = niceTicks(0, n - 1, 10).filter((p) => Number.isInteger(p) && p >= 0 && p < n);
  return { ticks: positions.map((p) => ({ at: at(p), text: String(classIds?.[p] ?? p), title: names[p] })), named: false };
}

function tickText(x: number, y: number, tick: Tick, anchor: string, rotate = 0, extra = ''): string {
  const transform = rotate ? ` transform="rotate(${rotate} ${number(x)} ${number(y)})"` : '';
  const title = tick.title !== undefined ? `<title>${escapeHtml(tick.title)}</title>` : '';
  return `<text x="${number(x)}" y="${number(y)}" text-anchor="${anchor}" font-size="11"${transform}${extra}>${title}${escapeHtml(tick.text)}</text>`;
}

/** Axis lines, horizontal grid lines, tick labels and axis titles; `rotateX` slants long x labels by 45°. */
export function axes(frame: Frame, x: { ticks: Tick[]; label: string; rotate?: boolean }, y: { ticks: Tick[]; label: string }): string {
  const { width, height, left, right, top, bottom } = frame;
  const base = height - bottom;
  const parts = [`<line x1="${left}" y1="${base}" x2="${width - right}" y2="${base}" stroke="#333"/>`, `<line x1="${left}" y1="${top}" x2="${left}" y2="${base}" stroke="#333"/>`];
  parts.push('<g data-axis="y">');
  for (const tick of y.ticks) {
    parts.push(`<line x1="${left}" y1="${number(tick.at)}" x2="${width - right}" y2="${number(tick.at)}" stroke="#ddd"/>`);
    parts.push(tickText(left - 6, tick.at + 4, tick, 'end'));
  }
  parts.push('</g><g data-axis="x">');
  for (const tick of x.ticks) {
    parts.push(`<line x1="${number(tick.at)}" y1="${base}" x2="${number(tick.at)}" y2="${base + 4}" stroke="#333"/>`);
    parts.push(x.rotate ? tickText(tick.at + 3, base + 12, tick, 'end', -45) : tickText(tick.at, base + 16, tick, 'middle'));
  }
  parts.push('</g>');
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle" font-size="12">${escapeHtml(x.label)}</text>`);
  const middle = (top + base) / 2;
  parts.push(`<text x="14" y="${middle}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${middle})">${escapeHtml(y.label)}</text>`);
  return parts.join('');
}

/** Legend entries in a row (wrapping once), above the plot. */
export function legend(names: string[], frame: Frame): string {
  let x = frame.left + 10;
  let y = Math.max(frame.top - 30, 2);
  return names
    .map((name, i) => {
      const width = 30 + 6.5 * name.length;
      if (x + width > frame.width - frame.right && x > frame.left + 10) {
        x = frame.left + 10;
        y += 14;
      }
      const entry = `<rect x="${number(x)}" y="${y}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${number(x + 14)}" y="${y + 9}" font-size="11">${escapeHtml(name)}</text>`;
      x += width;
      return entry;
    })
    .join('');
}

/** The `<svg>` element; `data-chart` names the chart. */
export function svgWrap(name: string, frame: { width: number; height: number }, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${escapeHtml(name)}" viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}" role="img">${body}</svg>`;
}

/** A placeholder chart holding one line of text. */
export function emptySvg(name: string, message: string): string {
  return svgWrap(name, { width: 360, height: 60 }, `<text x="10" y="34" font-size="13">${escapeHtml(message)}</text>`);
}

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

const finitePoint = ([x, y]: [number, number]) => Number.isFinite(x) && Number.isFinite(y);

/** A line chart as an SVG string; `data-chart` names it; `percent` draws a fraction y axis as 0%…100%. */
export function lineChartSvg(name: string, series: Series[], xLabel: string, yLabel: string, yRange?: [number, number], options: { percent?: boolean } = {}): string {
  const frame = FRAME;
  const all = series.flatMap((s) => s.points).filter(finitePoint);
  if (all.length === 0) return emptySvg(name, 'no data yet');
  const [yMin, yMax] = yRange ?? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const xs = linearScale(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])), [frame.left, frame.width - frame.right]);
  const ys = linearScale(yMin, yMax, [frame.height - frame.bottom, frame.top], { percent: options.percent });
  const paths = series
    .map((s, i) => {
      const points = s.points.filter(finitePoint);
      if (points.length === 0) return '';
      const d = points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${xs.position(x).toFixed(1)},${ys.position(y).toFixed(1)}`).join('');
      const color = COLORS[i % COLORS.length];
      const dots = points.length <= 60 ? points.map(([x, y]) => `<circle cx="${xs.position(x).toFixed(1)}" cy="${ys.position(y).toFixed(1)}" r="2.5" fill="${color}"/>`).join('') : '';
      return `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"><title>${escapeHtml(s.name)}</title></path>${dots}`;
    })
    .join('');
  const body = axes(frame, { ticks: xs.ticks, label: xLabel }, { ticks: ys.ticks, label: yLabel }) + paths + legend(series.map((s) => s.name), frame);
  return svgWrap(name, frame, body);
}

/** Grouped vertical bars; `null` values are drawn as "n/a". */
export function groupedBarSvg(name: string, categories: string[], series: Array<{ name: string; values: Array<number | null> }>, yLabel: string, yMax = 1, percent = true): string {
  const frame = FRAME;
  const plotWidth = frame.width - frame.left - frame.right;
  const base = frame.height - frame.bottom;
  const ys = linearScale(0, yMax, [base, frame.top], { percent });
  const groupWidth = plotWidth / Math.max(categories.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  const parts: string[] = [];
  categories.forEach((category, c) => {
    series.forEach((s, i) => {
      const value = s.values[c];
      const x = frame.left + c * groupWidth + groupWidth * 0.1 + i * barWidth;
      if (value === null || value === undefined || Number.isNaN(value)) {
        parts.push(`<text x="${number(x + barWidth / 2)}" y="${base - 4}" text-anchor="middle" font-size="10">n/a</text>`);
        return;
      }
      const top = ys.position(Math.min(value, yMax));
      const label = percent ? `${formatPercent(value)}%` : formatTick(Number(value.toPrecision(3)));
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(barWidth - 1, 1).toFixed(1)}" height="${(base - top).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeHtml(`${s.name} ${category}: ${label}`)}</title></rect>`,
      );
      parts.push(`<text x="${number(x + barWidth / 2)}" y="${(top - 3).toFixed(1)}" text-anchor="middle" font-size="${barWidth < 36 ? 8 : 10}">${escapeHtml(label)}</text>`);
    });
  });
  const xTicks = categories.map((category, c) => ({ at: frame.left + (c + 0.5) * groupWidth, text: category }));
  const body = axes(frame, { ticks: xTicks, label: '' }, { ticks: ys.ticks, label: yLabel }) + parts.join('') + legend(series.map((s) => s.name), frame);
  return svgWrap(name, frame, body);
}

/**
 * One bar per class (already ordered), optionally a line of a second quantity on a log right axis. The x axis shows
 * the names (few classes) or `classIds` (the class index at each position; default the position) with the names in
 * tooltips.
 */
export function classBarsSvg(
  name: string,
  labels: string[],
  values: Array<number | null>,
  yLabel: string,
  yMax: number,
  overlay?: { name: string; values: number[] },
  percent = true,
  classIds?: number[],
): string {
  const named = labels.length <= MAX_NAMED_CLASSES;
  const frame = { ...FRAME, bottom: named ? 96 : FRAME.bottom, height: FRAME.height + (named ? 52 : 0) };
  const plotWidth = frame.width - frame.left - frame.right;
  const step = plotWidth / Math.max(values.length, 1);
  const base = frame.height - frame.bottom;
  const ys = linearScale(0, yMax || 1, [base, frame.top], { percent });
  const parts: string[] = [];
  values.forEach((value, i) => {
    if (value === null || !Number.isFinite(value)) return;
    const top = ys.position(Math.min(value, yMax));
    const text = percent ? `${formatPercent(value)}%` : formatTick(Number(value.toPrecision(3)));
    parts.push(
      `<rect x="${(frame.left + i * step).toFixed(2)}" y="${top.toFixed(1)}" width="${Math.max(step * 0.85, 0.5).toFixed(2)}" height="${(base - top).toFixed(1)}" fill="${COLORS[0]}"><title>${escapeHtml(`${labels[i]}: ${text}`)}</title></rect>`,
    );
  });
  if (overlay && overlay.values.length > 0) {
    const counts = overlay.values.map((v) => Math.max(v, 1));
    const right = logScale(Math.min(...counts), Math.max(...counts), [base, frame.top]);
    const d = counts.map((v, i) => `${i === 0 ? 'M' : 'L'}${(frame.left + (i + 0.5) * step).toFixed(1)},${right.position(v).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[1]}" stroke-width="2"><title>${escapeHtml(overlay.name)}</title></path>`);
    parts.push('<g data-axis="right">');
    for (const tick of right.ticks) parts.push(tickText(frame.width - frame.right + 6, tick.at + 4, tick, 'start', 0, ` fill="${COLORS[1]}"`));
    parts.push('</g>');
  }
  const x = classTicks(labels, (p) => frame.left + (p + 0.5) * step, classIds);
  const legendNames = overlay ? [yLabel, `${overlay.name} (log, right axis)`] : [yLabel];
  const xLabel = x.named ? 'classes, most frequent first' : 'classes, most frequent first (class index; names in tooltips)';
  return svgWrap(name, frame, axes(frame, { ticks: x.ticks, label: xLabel, rotate: x.named }, { ticks: ys.ticks, label: yLabel }) + parts.join('') + legend(legendNames, frame));
}

/** Row-normalised cell values of a confusion matrix, classes in `order`, binned to `bins × bins`. */
function binnedConfusion(confusion: number[][], order: number[], bins: number): number[][] {
  const n = order.length;
  const binOf = (position: number) => Math.floor((position * bins) / n);
  const cells = Array.from({ length: bins }, () => new Array<number>(bins).fill(0));
  const rowTotals = new Array<number>(bins).fill(0);
  order.forEach((trueClass, rowPosition) => {
    const row = confusion[trueClass];
    const rowSum = row.reduce((a, b) => a + b, 0);
    if (rowSum === 0) return;
    const r = binOf(rowPosition);
    rowTotals[r] += 1;
    order.forEach((predictedClass, columnPosition) => {
      cells[r][binOf(columnPosition)] += row[predictedClass] / rowSum;
    });
  });
  return cells.map((row, r) => row.map((value) => (rowTotals[r] > 0 ? value / rowTotals[r] : 0)));
}

/**
 * Row-normalised confusion matrix heat map, true classes in rows and predicted classes in columns, both in the given
 * order, binned to at most `maxCells` per side. The axes carry the class names (up to `MAX_NAMED_CLASSES` classes,
 * long names cut) or class indices at round positions, with the names in tooltips.
 */
export function confusionSvg(name: string, confusion: number[][], order: number[], maxCells = 100, names?: string[]): string {
  const n = order.length;
  if (n === 0) return emptySvg(name, 'no classes');
  const bins = Math.min(n, maxCells);
  const cells = binnedConfusion(confusion, order, bins);
  const orderedNames = order.map((c) => names?.[c] ?? String(c));
  const named = n <= MAX_NAMED_CLASSES;
  const size = 480;
  const left = named ? 112 : 56;
  const top = 16;
  const bottom = named ? 104 : 52;
  const cell = size / bins;
  const classAt = (position: number) => (names?.[order[position]] ?? `class ${order[position]}`);
  const span = (b: number) => {
    const first = Math.ceil((b * n) / bins);
    const last = Math.ceil(((b + 1) * n) / bins) - 1;
    return first === last ? classAt(first) : `classes ranked ${first + 1}–${last + 1}`;
  };
  const parts: string[] = [];
  for (let r = 0; r < bins; r++) {
    for (let c = 0; c < bins; c++) {
      const value = cells[r][c];
      if (value <= 0) continue;
      const shade = Math.round(255 * (1 - Math.min(1, value)));
      parts.push(
        `<rect x="${(left + c * cell).toFixed(2)}" y="${(top + r * cell).toFixed(2)}" width="${cell.toFixed(2)}" height="${cell.toFixed(2)}" fill="rgb(${shade},${shade},255)"><title>${escapeHtml(`true ${span(r)}, predicted ${span(c)}: ${(100 * value).toFixed(1)}%`)}</title></rect>`,
      );
    }
  }
  const centre = (position: number) => (position + 0.5) * (size / n);
  const axis = classTicks(orderedNames, centre, order);
  const base = top + size;
  const rows = axis.ticks.map((tick) => tickText(left - 5, top + tick.at + 4, tick, 'end')).join('');
  const columns = axis.ticks.map((tick) => (named ? tickText(left + tick.at + 3, base + 12, tick, 'end', -45) : tickText(left + tick.at, base + 15, tick, 'middle'))).join('');
  const suffix = named ? 'most frequent first' : 'class index, most frequent first';
  const body =
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#333"/>` +
    parts.join('') +
    `<g data-axis="true">${rows}</g><g data-axis="predicted">${columns}</g>` +
    `<text x="${left + size / 2}" y="${base + bottom - 8}" text-anchor="middle" font-size="12">predicted class (${suffix})</text>` +
    `<text x="14" y="${top + size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${top + size / 2})">true class (${suffix})</text>`;
  return svgWrap(name, { width: left + size + 16, height: base + bottom }, body);
}

/**
 * Reliability diagram: per confidence bin, a bar of the bin's accuracy (`data-accuracy`, height = accuracy × the
 * plot's height), the gap to its mean confidence in red, the diagonal of perfect calibration, and the number of
 * samples of each bin above its bar. Empty bins are left blank.
 */
export function reliabilitySvg(name: string, bins: ReliabilityBin[]): string {
  if (bins.length === 0) return emptySvg(name, 'no calibration bins');
  const frame: Frame = { width: 440, height: 420, left: 56, right: 16, top: 34, bottom: 48 };
  const plotWidth = frame.width - frame.left - frame.right;
  const plotHeight = frame.height - frame.top - frame.bottom;
  const base = frame.height - frame.bottom;
  const xs = linearScale(0, 1, [frame.left, frame.left + plotWidth], { percent: true });
  const ys = linearScale(0, 1, [base, frame.top], { percent: true });
  const parts = [`<rect class="plot-area" x="${frame.left}" y="${frame.top}" width="${plotWidth}" height="${plotHeight}" fill="#fafafa"/>`];
  bins.forEach((bin, b) => {
    if (bin.count === 0 || bin.accuracy === null || bin.confidence === null) return;
    const x = xs.position(bin.lower) + 1;
    const width = Math.max(xs.position(bin.upper) - xs.position(bin.lower) - 2, 0.5);
    const top = ys.position(bin.accuracy);
    const confidenceTop = ys.position(bin.confidence);
    const tip = `confidence ${formatPercent(bin.lower)}–${formatPercent(bin.upper)}%: ${bin.count} samples, accuracy ${formatPercent(bin.accuracy)}%, mean confidence ${formatPercent(bin.confidence)}%`;
    parts.push(
      `<rect class="bin" data-bin="${b}" data-count="${bin.count}" data-accuracy="${bin.accuracy}" x="${number(x)}" y="${number(top)}" width="${number(width)}" height="${number(base - top)}" fill="${COLORS[0]}"><title>${escapeHtml(tip)}</title></rect>`,
    );
    const gapTop = Math.min(top, confidenceTop);
    const gapHeight = Math.abs(top - confidenceTop);
    if (gapHeight > 0.5) {
      parts.push(`<rect class="gap" x="${number(x)}" y="${number(gapTop)}" width="${number(width)}" height="${number(gapHeight)}" fill="${COLORS[1]}" fill-opacity="0.12" stroke="${COLORS[1]}" stroke-width="1.2"><title>${escapeHtml(tip)}</title></rect>`);
    }
    const label = String(bin.count);
    const cx = x + width / 2;
    const cy = gapTop - 3;
    const rotate = label.length * 5.5 > width ? ` transform="rotate(-90 ${number(cx)} ${number(cy)})"` : '';
    parts.push(`<text class="bin-count" x="${number(cx)}" y="${number(cy)}" text-anchor="${rotate ? 'start' : 'middle'}" font-size="9"${rotate}>${label}</text>`);
  });
  parts.push(`<line x1="${number(xs.position(0))}" y1="${number(ys.position(0))}" x2="${number(xs.position(1))}" y2="${number(ys.position(1))}" stroke="#555" stroke-dasharray="4 3"><title>perfect calibration</title></line>`);
  const key = `<rect x="${frame.left}" y="8" width="10" height="10" fill="${COLORS[0]}"/><text x="${frame.left + 14}" y="17" font-size="11">accuracy</text><rect x="${frame.left + 80}" y="8" width="10" height="10" fill="${COLORS[1]}" fill-opacity="0.12" stroke="${COLORS[1]}" stroke-width="1.2"/><text x="${frame.left + 94}" y="17" font-size="11">gap to confidence</text><text x="${frame.left + 210}" y="17" font-size="11">numbers: samples per bin</text>`;
  const body = axes(frame, { ticks: xs.ticks, label: 'top-1 confidence' }, { ticks: ys.ticks, label: 'accuracy' }) + parts.join('') + key;
  return svgWrap(name, frame, body);
}

/** One method's points of {@link classScatterSvg}: per class, training images `x`, accuracy `y`, tooltip `title`. */
export interface ScatterSeries {
  name: string;
  points: Array<{ x: number; y: number | null; title: string }>;
}

/** The mean y at each distinct x, in increasing x (the trend line of a scatter). */
function meanPerX(points: Array<{ x: number; y: number }>): Array<[number, number]> {
  const groups = new Map<number, { sum: number; count: number }>();
  for (const { x, y } of points) {
    const group = groups.get(x) ?? { sum: 0, count: 0 };
    group.sum += y;
    group.count += 1;
    groups.set(x, group);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([x, g]) => [x, g.sum / g.count]);
}

/**
 * Per-class accuracy against class size: one colour per series, a dot per class (tooltip: its name) on a log x axis
 * of training images, and a line through the mean accuracy of the classes of each size.
 */
export function classScatterSvg(name: string, series: ScatterSeries[], xLabel: string, yLabel: string): string {
  const frame = { ...FRAME, height: 340, right: 16 };
  const valid = series.map((s) => s.points.filter((p): p is { x: number; y: number; title: string } => p.y !== null && Number.isFinite(p.y) && Number.isFinite(p.x)));
  const all = valid.flat();
  if (all.length === 0) return emptySvg(name, 'no per-class accuracies');
  const base = frame.height - frame.bottom;
  const xs = logScale(Math.max(Math.min(...all.map((p) => p.x)), 1), Math.max(...all.map((p) => p.x), 1), [frame.left, frame.width - frame.right]);
  const ys = linearScale(0, 1, [base, frame.top], { percent: true });
  const parts = valid.map((points, i) => {
    const color = COLORS[i % COLORS.length];
    const dots = points
      .map((p) => `<circle cx="${number(xs.position(p.x))}" cy="${number(ys.position(p.y))}" r="2.5" fill="${color}" fill-opacity="0.6"><title>${escapeHtml(`${series[i].name} — ${p.title}: ${formatPercent(p.y)}% (${p.x} training images)`)}</title></circle>`)
      .join('');
    const trend = meanPerX(points);
    const d = trend.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${number(xs.position(x))},${number(ys.position(y))}`).join('');
    return `<g data-series="${escapeHtml(series[i].name)}">${dots}<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"><title>${escapeHtml(`${series[i].name}: mean accuracy per class size`)}</title></path></g>`;
  });
  const body = axes(frame, { ticks: xs.ticks, label: xLabel }, { ticks: ys.ticks, label: yLabel }) + parts.join('') + legend(series.map((s) => s.name), frame);
  return svgWrap(name, frame, body);
}
