// svu-hub charts: small SVG charts with axes, labels and values, drawn into an <svg viewBox>.
// No library from a CDN; nothing but the DOM. Every chart scales with its container.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];
  const OUTCOME = { met: "#2e7d32", met_late: "#ef6c00", missed: "#c62828", pending: "#1565c0" };

  const num = (v) => Number(v).toLocaleString("sv-SE", { maximumFractionDigits: 1 });

  function el(name, attrs = {}, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function size(svg) {
    const [, , w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
    return { w, h };
  }

  function niceMax(value) {
    if (value <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(value));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= value) return m * p;
    return 10 * p;
  }

  function yAxis(svg, box, max, label, format) {
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = box.y + box.h - (box.h * i) / 4;
      svg.appendChild(el("line", { x1: box.x, x2: box.x + box.w, y1: y, y2: y, class: "grid" }));
      svg.appendChild(el("text", { x: box.x - 6, y: y + 4, class: "tick", "text-anchor": "end" }, format(v)));
    }
    const t = el("text", { x: 14, y: box.y + box.h / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(-90 14 ${box.y + box.h / 2})` }, label);
    svg.appendChild(t);
  }

  function empty(svg, text) {
    const { w, h } = size(svg);
    svg.appendChild(el("text", { x: w / 2, y: h / 2, class: "empty", "text-anchor": "middle" }, text));
  }

  function legend(container, items) {
    if (!container) return;
    container.replaceChildren();
    for (const item of items) {
      const span = document.createElement("span");
      span.className = "key";
      const dot = document.createElementNS(NS, "svg");
      dot.setAttribute("viewBox", "0 0 10 10");
      dot.setAttribute("class", "swatch");
      dot.appendChild(el("rect", { x: 0, y: 0, width: 10, height: 10, fill: item.color }));
      span.append(dot, document.createTextNode(item.name));
      container.appendChild(span);
    }
  }

  /** Grouped bars: one group per category (month), one bar per series (kommun). */
  function groupedBars(svg, { categories, series, yLabel, format = num }) {
    svg.replaceChildren();
    const { w, h } = size(svg);
    if (!categories.length || !series.length) return empty(svg, "Inga uppgifter ännu");
    const box = { x: 64, y: 14, w: w - 80, h: h - 58 };
    const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0))));
    yAxis(svg, box, max, yLabel, format);
    const group = box.w / categories.length;
    const bar = Math.max(1.5, (group * 0.86) / series.length);
    categories.forEach((cat, i) => {
      const gx = box.x + i * group + group * 0.07;
      series.forEach((s, j) => {
        const v = s.values[i];
        if (v === null || v === undefined) return;
        const bh = (box.h * v) / max;
        const rect = el("rect", { x: gx + j * bar, y: box.y + box.h - bh, width: Math.max(1, bar - 1), height: bh,
          fill: s.color, class: "bar" });
        rect.appendChild(el("title", {}, `${s.name}, ${cat}: ${format(v)}`));
        svg.appendChild(rect);
      });
      svg.appendChild(el("text", { x: box.x + i * group + group / 2, y: box.y + box.h + 16, class: "tick",
        "text-anchor": "middle" }, cat));
    });
    svg.appendChild(el("text", { x: box.x + box.w / 2, y: h - 6, class: "axis-label", "text-anchor": "middle" }, "Månad"));
  }

  /** Lines: one per series over the categories (months), values at the points. */
  function lines(svg, { categories, series, yLabel, format = num }) {
    svg.replaceChildren();
    const { w, h } = size(svg);
    if (!categories.length || !series.length) return empty(svg, "Inga uppgifter ännu");
    const box = { x: 64, y: 14, w: w - 200, h: h - 58 };
    const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0))));
    yAxis(svg, box, max, yLabel, format);
    const step = categories.length > 1 ? box.w / (categories.length - 1) : 0;
    const xOf = (i) => box.x + (categories.length > 1 ? i * step : box.w / 2);
    categories.forEach((cat, i) => svg.appendChild(el("text", { x: xOf(i), y: box.y + box.h + 16, class: "tick",
      "text-anchor": "middle" }, cat)));
    series.forEach((s, j) => {
      const pts = s.values.map((v, i) => (v === null || v === undefined ? null : [xOf(i), box.y + box.h - (box.h * v) / max]));
      const d = pts.filter(Boolean).map((p, k) => `${k ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ");
      if (d) svg.appendChild(el("path", { d, stroke: s.color, class: "line" }));
      pts.forEach((p, i) => {
        if (!p) return;
        const c = el("circle", { cx: p[0], cy: p[1], r: 3, fill: s.color });
        c.appendChild(el("title", {}, `${s.name}, ${categories[i]}: ${format(s.values[i])}`));
        svg.appendChild(c);
      });
      const last = pts.filter(Boolean).pop();
      if (last) {
        svg.appendChild(el("text", { x: box.x + box.w + 8, y: 24 + j * 14, class: "tick", fill: s.color },
          `● ${s.name}: ${format(s.values[s.values.length - 1] ?? 0)}`));
      }
    });
    svg.appendChild(el("text", { x: box.x + box.w / 2, y: h - 6, class: "axis-label", "text-anchor": "middle" }, "Månad"));
  }

  /** Stacked bars: one bar per category, stacked by series (rule). */
  function stackedBars(svg, { categories, series, yLabel }) {
    svg.replaceChildren();
    const { w, h } = size(svg);
    if (!categories.length || !series.length) return empty(svg, "Inga larm ännu");
    const box = { x: 64, y: 14, w: w - 80, h: h - 58 };
    const totals = categories.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    const max = niceMax(Math.max(...totals));
    yAxis(svg, box, max, yLabel, (v) => String(Math.round(v)));
    const group = box.w / categories.length;
    categories.forEach((cat, i) => {
      let y = box.y + box.h;
      for (const s of series) {
        const v = s.values[i] || 0;
        if (!v) continue;
        const bh = (box.h * v) / max;
        y -= bh;
        const rect = el("rect", { x: box.x + i * group + group * 0.2, y, width: group * 0.6, height: bh, fill: s.color });
        rect.appendChild(el("title", {}, `${s.name}, ${cat}: ${v}`));
        svg.appendChild(rect);
      }
      svg.appendChild(el("text", { x: box.x + i * group + group / 2, y: y - 4, class: "value", "text-anchor": "middle" },
        String(totals[i])));
      svg.appendChild(el("text", { x: box.x + i * group + group / 2, y: box.y + box.h + 16, class: "tick",
        "text-anchor": "middle" }, cat));
    });
    svg.appendChild(el("text", { x: box.x + box.w / 2, y: h - 6, class: "axis-label", "text-anchor": "middle" }, "Månad"));
  }

  /** An episode on a time axis: events as points (top lane), each deadline a span from its start to
   *  its due time in the colour of its outcome (one lane each). */
  function timeline(svg, { events, spans, formatTime }) {
    svg.replaceChildren();
    const lanes = Math.min(spans.length, 14);
    const height = 70 + lanes * 18 + 30;
    svg.setAttribute("viewBox", `0 0 960 ${height}`);
    const times = [...events.map((e) => e.t), ...spans.flatMap((s) => [s.start, s.end])].filter((t) => !Number.isNaN(t));
    if (!times.length) return empty(svg, "Inga händelser");
    const t0 = Math.min(...times), t1 = Math.max(...times) + 1;
    const box = { x: 210, y: 26, w: 730 };
    const xOf = (t) => box.x + ((t - t0) / (t1 - t0)) * box.w;
    const axisY = height - 26;
    svg.appendChild(el("line", { x1: box.x, x2: box.x + box.w, y1: axisY, y2: axisY, class: "axis" }));
    for (let i = 0; i <= 5; i++) {
      const t = t0 + ((t1 - t0) * i) / 5;
      svg.appendChild(el("line", { x1: xOf(t), x2: xOf(t), y1: box.y - 6, y2: axisY, class: "grid" }));
      svg.appendChild(el("text", { x: xOf(t), y: axisY + 16, class: "tick", "text-anchor": "middle" }, formatTime(t)));
    }
    svg.appendChild(el("text", { x: 8, y: box.y + 4, class: "lane-label" }, "Händelser"));
    events.forEach((e) => {
      const c = el("circle", { cx: xOf(e.t), cy: box.y, r: 5, class: "event-dot" });
      c.appendChild(el("title", {}, `${formatTime(e.t)} · ${e.label}`));
      svg.appendChild(c);
    });
    spans.slice(0, lanes).forEach((s, i) => {
      const y = box.y + 24 + i * 18;
      svg.appendChild(el("text", { x: 8, y: y + 10, class: "lane-label" }, s.label.length > 30 ? `${s.label.slice(0, 29)}…` : s.label));
      const x = xOf(Math.min(s.start, s.end)), x2 = xOf(s.end);
      const rect = el("rect", { x, y, width: Math.max(3, x2 - x), height: 12, rx: 3, fill: OUTCOME[s.outcome] || "#777" });
      rect.appendChild(el("title", {}, `${s.label}: ${s.outcomeText}, senast ${formatTime(s.end)}`));
      svg.appendChild(rect);
      if (s.met) svg.appendChild(el("line", { x1: xOf(s.met), x2: xOf(s.met), y1: y - 2, y2: y + 14, class: "met-mark" }));
    });
  }

  return { groupedBars, lines, stackedBars, timeline, legend, PALETTE, OUTCOME };
})();
