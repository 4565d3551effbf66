// omnirelay dashboard: charts as hand-written SVG (no library, nothing fetched from outside).
// Three shapes cover the page: lines (rates per day), vertical bars, plain or stacked (volume per
// day, CSAT 1–5, response-time buckets, hours of the day), horizontal bars (channels, intents,
// phrases). Each chart is drawn at the figure's real width (text stays legible on a phone) and
// comes with its data table, so a screen reader or a keyboard user gets every number.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#0b6bcb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a", "#0a7ea4"];
const CHANNEL_COLORS = { telegram: "#229ed9", viber: "#7360f2", instagram: "#d62976", webchat: "#1f883d", rest: "#57606a", web: "#8c959f" };
const PAD = { top: 12, right: 12, bottom: 28, left: 44 };

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function htmlEl(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function colorOf(name, index) { return CHANNEL_COLORS[name] || PALETTE[index % PALETTE.length]; }

// The smallest "round" number (1, 2, 2.5, 5 × 10^k) at or above max; counts skip 2.5.
function niceMax(max, integer) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= max && !(integer && !Number.isInteger(step * power))) return step * power;
  }
  return 10 * power;
}

// How many gridline steps: four where they fall on whole numbers (counts), else five or two.
function tickCount(max) { return [4, 5, 2, 1].find((n) => Number.isInteger(max / n)) || 4; }

// Which of n labels to print so they do not overlap at this width (about 56 px each).
function labelEvery(n, plotWidth) { return Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotWidth / 56)))); }

function yAxis(group, height, max, format, plotWidth, integer) {
  const steps = integer ? tickCount(max) : 4;
  for (let i = 0; i <= steps; i += 1) {
    const value = (max * i) / steps;
    const y = PAD.top + height - (height * i) / steps;
    group.append(svgEl("line", { x1: PAD.left, x2: PAD.left + plotWidth, y1: y, y2: y, class: "grid" }));
    group.append(svgEl("text", { x: PAD.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format(value)));
  }
}

function xLabels(group, labels, xOf, height, plotWidth) {
  const every = labelEvery(labels.length, plotWidth);
  labels.forEach((label, i) => {
    if (i % every !== 0) return;
    group.append(svgEl("text", { x: xOf(i), y: PAD.top + height + 18, class: "tick", "text-anchor": "middle" }, label));
  });
}

function frame(width, height, label) {
  return svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, focusable: "false" });
}

// Lines over days: series = [{name, values (0..max or null), color}]; one point per day.
function lineChart(width, labels, series, opts) {
  const height = opts.height || 220;
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const max = opts.max ?? niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null))));
  const root = frame(width, height, opts.label);
  yAxis(root, plotH, max, opts.format, plotW);
  const xOf = (i) => PAD.left + (labels.length > 1 ? (plotW * i) / (labels.length - 1) : plotW / 2);
  const yOf = (v) => PAD.top + plotH - (plotH * Math.min(v, max)) / max;
  series.forEach((s, index) => {
    const color = s.color || colorOf(s.name, index);
    let path = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      path += (path && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? "L" : "M") + xOf(i) + " " + yOf(v);
    });
    root.append(svgEl("path", { d: path, fill: "none", stroke: color, "stroke-width": 2, class: "series", "data-series": s.name }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      root.append(svgEl("circle", { cx: xOf(i), cy: yOf(v), r: 3.5, fill: color },
        svgEl("title", {}, `${labels[i]}: ${s.label || s.name} ${opts.format(v)}`)));
    });
  });
  xLabels(root, labels, xOf, plotH, plotW);
  return root;
}

// Vertical bars; with several series they are stacked. series = [{name, values, color}].
function barChart(width, labels, series, opts) {
  const height = opts.height || 220;
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals), true);
  const root = frame(width, height, opts.label);
  yAxis(root, plotH, max, opts.format, plotW, true);
  const slot = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const xOf = (i) => PAD.left + slot * i + slot / 2;
  labels.forEach((label, i) => {
    let base = PAD.top + plotH;
    series.forEach((s, index) => {
      const v = s.values[i] || 0;
      if (v <= 0) return;
      const h = (plotH * v) / max;
      base -= h;
      root.append(svgEl("rect", { x: xOf(i) - barW / 2, y: base, width: barW, height: h, fill: s.color || colorOf(s.name, index),
        class: "bar", "data-series": s.name, "data-label": label },
        svgEl("title", {}, `${label}${series.length > 1 ? " · " + (s.label || s.name) : ""}: ${opts.format(v)}`)));
    });
  });
  xLabels(root, labels, xOf, plotH, plotW);
  return root;
}

// Horizontal bars with their labels at the left: items = [[label, n], ...].
function hbarChart(width, items, opts) {
  const row = 26;
  const height = items.length * row + 8;
  const labelW = Math.min(Math.max(90, width * 0.42), 260);
  const plotW = Math.max(40, width - labelW - 56);
  const max = Math.max(1, ...items.map(([, n]) => n));
  const root = frame(width, height, opts.label);
  items.forEach(([label, n], i) => {
    const y = 4 + i * row;
    const text = String(label);
    const shown = text.length * 7 > labelW - 8 ? text.slice(0, Math.max(4, Math.floor((labelW - 8) / 7) - 1)) + "…" : text;
    root.append(svgEl("text", { x: labelW - 8, y: y + 16, class: "label", "text-anchor": "end" }, shown, svgEl("title", {}, text)));
    root.append(svgEl("rect", { x: labelW, y: y + 4, width: Math.max(1, (plotW * n) / max), height: row - 10, rx: 3,
      fill: opts.colors ? colorOf(text, i) : opts.color || PALETTE[0], class: "bar", "data-label": text },
    svgEl("title", {}, `${text}: ${opts.format(n)}`)));
    root.append(svgEl("text", { x: labelW + (plotW * n) / max + 6, y: y + 16, class: "value" }, opts.format(n)));
  });
  return root;
}

function legend(series) {
  return htmlEl("ul", { class: "legend" }, ...series.map((s, i) => htmlEl("li", {},
    htmlEl("span", { class: "swatch", "data-color": s.color || colorOf(s.name, i) }), s.label || s.name)));
}

function dataTable(headers, rows) {
  return htmlEl("details", {}, htmlEl("summary", {}, t("table")),
    htmlEl("div", { class: "table-wrap" }, htmlEl("table", {},
      htmlEl("thead", {}, htmlEl("tr", {}, ...headers.map((h) => htmlEl("th", { scope: "col" }, h)))),
      htmlEl("tbody", {}, ...rows.map((r) => htmlEl("tr", {}, ...r.map((c, i) => htmlEl(i ? "td" : "th", i ? {} : { scope: "row" }, c))))))));
}

// Fill a <figure>: caption, optional legend, the chart (drawn by draw(width, label)), its table.
// With no data the figure says so instead of drawing empty axes.
function renderFigure(figure, spec) {
  const captionId = figure.id + "-cap";
  figure.setAttribute("aria-labelledby", captionId);
  const parts = [htmlEl("figcaption", { id: captionId }, spec.title)];
  if (spec.note) parts.push(htmlEl("p", { class: "muted note" }, spec.note));
  if (spec.empty) {
    parts.push(htmlEl("p", { class: "muted empty" }, t("no_data")));
  } else {
    if (spec.legend) parts.push(legend(spec.legend));
    const width = Math.max(240, Math.floor(figure.clientWidth || 320) - 2);
    parts.push(spec.draw(width, t("chart_summary", { title: spec.title, n: spec.rows.length })));
    parts.push(dataTable(spec.headers, spec.rows));
  }
  const open = figure.querySelector("details")?.open;
  figure.replaceChildren(...parts);
  if (open && figure.querySelector("details")) figure.querySelector("details").open = true;
  for (const swatch of figure.querySelectorAll(".swatch")) {
    swatch.append(svgEl("svg", { width: 12, height: 12, "aria-hidden": "true" }, svgEl("rect", { width: 12, height: 12, rx: 2, fill: swatch.dataset.color })));
  }
}
