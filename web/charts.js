// charts.js - time-series charts with uPlot (npm, embedded into the binary). Colours follow
// the light/dark theme; charts resize with their container.
import uPlot from "./vendor/uPlot.esm.js";
import { h } from "./lib.js";

const PALETTE = ["#4c6ef5", "#f76707", "#2b8a3e", "#be4bdb", "#e03131", "#1098ad", "#f59f00", "#5c940d"];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const live = new Set();

// A line chart in container: xs are unix seconds, series [{label, values, color?}].
// yFormat formats the axis and legend values.
export function lineChart(container, { xs, series, yFormat = (v) => v, yLabel = "", yMin = null, yMax = null, area = false, step = false }) {
  container.replaceChildren();
  if (!xs.length) {
    container.append(h("div", { class: "chart-empty" }, "No data yet."));
    return null;
  }
  const text = cssVar("--muted"), grid = cssVar("--line");
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const width = Math.max(280, container.clientWidth || 600);
  const opts = {
    width,
    height: 220,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [yMin ?? Math.min(0, min), yMax ?? (max > 0 ? max * 1.1 : 1)] } },
    axes: [
      { ...axis },
      { ...axis, label: yLabel, labelSize: yLabel ? 18 : 0, size: 72, values: (u, vals) => vals.map((v) => yFormat(v)) },
    ],
    series: [
      {},
      ...series.map((s, i) => {
        const color = s.color || PALETTE[i % PALETTE.length];
        return {
          label: s.label,
          stroke: color,
          width: 2,
          fill: area ? color + "33" : undefined,
          points: { show: s.values.filter((v) => v !== null && v !== undefined).length < 3, size: 7 },
          paths: step ? uPlot.paths.stepped({ align: 1 }) : undefined,
          value: (u, v) => (v === null || v === undefined ? "–" : yFormat(v)),
        };
      }),
    ],
  };
  const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], container);
  const ro = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w > 0 && Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: 220 });
  });
  ro.observe(container);
  const entry = { plot, ro };
  live.add(entry);
  return plot;
}

// Drop every chart (on leaving a view).
export function destroyCharts() {
  for (const { plot, ro } of live) {
    ro.disconnect();
    plot.destroy();
  }
  live.clear();
}
