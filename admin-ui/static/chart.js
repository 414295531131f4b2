// Draws a statistic's chart in the page as SVG: bars, a line or a pie of one measure over the
// table's rows. No library and no network: the numbers are the ones the table shows, read
// from the page's <script type="application/json" data-chart-data>. Without JavaScript the
// table alone is shown.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#c8102e", "#1a73e8", "#188038", "#f29900", "#8430ce", "#12b5cb", "#e52592", "#5f6368"];

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function format(n) {
  return Number.isInteger(n) ? n.toLocaleString() : n.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

// The axis top: the maximum rounded up to 1, 2, 2.5 or 5 times a power of ten, at least 4
// so that four gridlines fall on whole numbers.
function nice(max) {
  if (!(max > 4)) return 4;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function bars(svg, labels, values, w, h, line) {
  const pad = { l: 64, r: 12, t: 12, b: 90 };
  const max = nice(Math.max(...values.map((v) => v ?? 0)));
  const step = Math.min((w - pad.l - pad.r) / Math.max(values.length, 1), 120);
  const y = (v) => h - pad.b - ((v ?? 0) / max) * (h - pad.t - pad.b);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4, yy = y(v);
    svg.append(el("line", { x1: pad.l, x2: w - pad.r, y1: yy, y2: yy, stroke: "#e3e7ec" }));
    svg.append(el("text", { x: pad.l - 6, y: yy + 4, "text-anchor": "end", "font-size": 11, fill: "#5f6b7a" }, format(v)));
  }
  const points = [];
  values.forEach((v, i) => {
    const x = pad.l + i * step;
    if (line) {
      points.push(`${x + step / 2},${y(v)}`);
      svg.append(el("circle", { cx: x + step / 2, cy: y(v), r: 3.5, fill: COLOURS[0] }, undefined));
    } else {
      const bw = Math.min(Math.max(step * 0.7, 1), 48);
      const bar = el("rect", { x: x + (step - bw) / 2, y: y(v), width: bw, height: h - pad.b - y(v), fill: COLOURS[0], rx: 2 });
      bar.append(el("title", {}, `${labels[i]}: ${format(v ?? 0)}`));
      svg.append(bar);
    }
    if (values.length <= 40) {
      const tx = x + step / 2, ty = h - pad.b + 14;
      svg.append(el("text", { x: tx, y: ty, "font-size": 11, fill: "#1f2933", "text-anchor": "end", transform: `rotate(-35 ${tx} ${ty})` }, labels[i].slice(0, 14)));
    }
  });
  if (line && points.length) svg.prepend(el("polyline", { points: points.join(" "), fill: "none", stroke: COLOURS[0], "stroke-width": 2 }));
}

// A pie with its legend beside it, or, on a narrow screen, below it. Returns the height drawn.
function pie(svg, labels, values, w, h) {
  const total = values.reduce((a, v) => a + Math.max(v ?? 0, 0), 0) || 1;
  const narrow = w < 480;
  const shown = Math.min(labels.length, 12);
  const r = narrow ? Math.min(w / 2 - 16, 100) : Math.min(w * 0.3, h / 2 - 12);
  const cx = narrow ? w / 2 : r + 12, cy = narrow ? r + 12 : h / 2;
  let angle = -Math.PI / 2;
  values.forEach((v, i) => {
    const share = Math.max(v ?? 0, 0) / total, next = angle + share * 2 * Math.PI;
    const large = share > 0.5 ? 1 : 0;
    const [x1, y1, x2, y2] = [cx + r * Math.cos(angle), cy + r * Math.sin(angle), cx + r * Math.cos(next), cy + r * Math.sin(next)];
    const d = share >= 0.9999 ? `M ${cx - r} ${cy} a ${r} ${r} 0 1 0 ${2 * r} 0 a ${r} ${r} 0 1 0 ${-2 * r} 0`
      : `M ${cx} ${cy} L ${x1} ${y1} A ${r} ${r} 0 ${large} 1 ${x2} ${y2} Z`;
    const slice = el("path", { d, fill: COLOURS[i % COLOURS.length], stroke: "#fff" });
    slice.append(el("title", {}, `${labels[i]}: ${format(v ?? 0)} (${(share * 100).toFixed(1)}%)`));
    svg.append(slice);
    if (i < shown) {
      const ly = narrow ? 2 * r + 44 + i * 18 : 16 + i * 18, lx = narrow ? 12 : cx + r + 20;
      const room = Math.max(6, Math.floor((w - lx - 70) / 12));
      svg.append(el("rect", { x: lx, y: ly - 10, width: 10, height: 10, fill: COLOURS[i % COLOURS.length] }));
      svg.append(el("text", { x: lx + 16, y: ly, "font-size": 12, fill: "#1f2933" }, `${labels[i].slice(0, room)} ${(share * 100).toFixed(1)}%`));
    }
    angle = next;
  });
  return narrow ? 2 * r + 44 + shown * 18 : h;
}

for (const figure of document.querySelectorAll("[data-chart]")) {
  const data = JSON.parse(figure.querySelector("[data-chart-data]").textContent);
  const area = figure.querySelector("[data-chart-area]");
  // A statistic page offers a measure and a kind; a dashboard tile fixes both (data-kind).
  const measure = figure.querySelector("[data-chart-measure]");
  let kind = figure.dataset.kind || "bar";
  const draw = () => {
    const m = Number(measure?.value || 0);
    const values = data.values.map((row) => (typeof row[m] === "number" ? row[m] : null));
    const w = Math.max(area.clientWidth, 280), h = kind === "pie" ? 260 : 300;
    const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, width: "100%", height: h, role: "img", "aria-label": `${data.measures[m]}` });
    if (kind === "pie") {
      const drawn = pie(svg, data.labels, values, w, h);
      svg.setAttribute("viewBox", `0 0 ${w} ${drawn}`);
      svg.setAttribute("height", drawn);
    } else bars(svg, data.labels, values, w, h, kind === "line");
    area.replaceChildren(svg);
  };
  figure.querySelectorAll("[data-chart-kind]").forEach((b) => b.addEventListener("click", () => {
    kind = b.dataset.chartKind;
    figure.querySelectorAll("[data-chart-kind]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
    draw();
  }));
  measure?.addEventListener("change", draw);
  addEventListener("resize", draw);
  draw();
}
