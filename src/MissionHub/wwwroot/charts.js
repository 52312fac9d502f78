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
