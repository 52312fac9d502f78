// A small time-series chart over uPlot (vendored from npm in vendor/uplot, MIT).
import uPlot from './vendor/uplot/uPlot.esm.js';

const MAX_POINTS = 2000;

export class TimeChart {
  /**
   * @param {HTMLElement} host  element the chart is drawn into
   * @param {string} label      series label, e.g. "Battery %"
   * @param {string} color      stroke colour
   * @param {[number, number]|null} range fixed y range, or null to fit the data
   */
  constructor(host, label, color, range) {
    this.host = host;
    this.xs = [];
    this.ys = [];
    this.pending = false;
    const width = Math.max(240, host.clientWidth || 320);
    this.plot = new uPlot({
      width,
      height: 160,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: range ? { range: () => range } : { auto: true } },
      axes: [{ stroke: '#5b6472', grid: { stroke: '#e6e9ef' } }, { stroke: '#5b6472', grid: { stroke: '#e6e9ef' }, size: 48 }],
      series: [{}, { label, stroke: color, width: 2, fill: color + '22', points: { show: false } }],
    }, [this.xs, this.ys], host);
    this.resizeObserver = new ResizeObserver(() => {
      const w = Math.max(240, host.clientWidth);
      if (Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: 160 });
    });
    this.resizeObserver.observe(host);
  }

  /** Replaces the data: points as [unixSeconds, value]. */
  set(points) {
    const sorted = points.filter(p => Number.isFinite(p[0]) && Number.isFinite(p[1])).sort((a, b) => a[0] - b[0]).slice(-MAX_POINTS);
    this.xs = sorted.map(p => p[0]);
    this.ys = sorted.map(p => p[1]);
    this.redraw();
  }

  /** Adds one live point (kept in time order; redrawn at most once per frame). */
  add(t, value) {
    if (!Number.isFinite(t) || !Number.isFinite(value)) return;
    if (this.xs.length > 0 && t < this.xs[this.xs.length - 1]) return;
    this.xs.push(t);
    this.ys.push(value);
    if (this.xs.length > MAX_POINTS) {
      this.xs.shift();
      this.ys.shift();
    }
    this.redraw();
  }

  get count() { return this.xs.length; }

  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData([this.xs, this.ys]);
    });
  }

  destroy() {
    this.resizeObserver.disconnect();
    this.plot.destroy();
  }
}

const PALETTE = ['#2563eb', '#1f9d55', '#c2410c', '#7c3aed', '#0891b2', '#b45309', '#db2777', '#4b5563'];
const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]]; // a second cue besides the colour

/** A chart of several named series over one time axis; a series is added when its name first appears. */
export class MultiChart {
  constructor(host, { range = null, height = 170 } = {}) {
    this.host = host;
    this.names = [];
    this.height = height;
    this.plot = new uPlot({
      width: Math.max(240, host.clientWidth || 320),
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: range ? { range: () => range } : { auto: true, range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{ stroke: '#5b6472', grid: { stroke: '#e6e9ef' } }, { stroke: '#5b6472', grid: { stroke: '#e6e9ef' }, size: 44 }],
      series: [{}],
    }, [[]], host);
    this.resizeObserver = new ResizeObserver(() => {
      const w = Math.max(240, host.clientWidth);
      if (Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: this.height });
    });
    this.resizeObserver.observe(host);
  }

  /** xs: Unix seconds; columns: name -> values (one per x, null for none). */
  set(xs, columns) {
    for (const name of Object.keys(columns)) {
      if (this.names.includes(name)) continue;
      const i = this.names.length;
      this.names.push(name);
      this.plot.addSeries({ label: name, stroke: PALETTE[i % PALETTE.length], dash: DASHES[Math.floor(i / 2) % DASHES.length], width: 2, points: { show: false }, spanGaps: true });
    }
    this.plot.setData([xs, ...this.names.map((n) => columns[n] || xs.map(() => null))]);
  }

  destroy() {
    this.resizeObserver.disconnect();
    this.plot.destroy();
  }
}
