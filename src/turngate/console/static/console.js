// turngate console: hover tips on the timeline, and the metrics charts (uPlot).
(function () {
  const tip = document.getElementById("tip");
  document.addEventListener("mouseover", (e) => {
    const el = e.target.closest && e.target.closest("[data-tip]");
    if (!el || !tip) return;
    tip.textContent = el.getAttribute("data-tip");
    tip.hidden = false;
    const r = el.getBoundingClientRect();
    tip.style.left = Math.min(window.scrollX + r.left, window.scrollX + window.innerWidth - 420) + "px";
    tip.style.top = (window.scrollY + r.bottom + 6) + "px";
  });
  document.addEventListener("mouseout", (e) => {
    if (tip && e.target.closest && e.target.closest("[data-tip]")) tip.hidden = true;
  });
})();

const RATES = [
  ["interruption_rate", "interruption rate", "#e8590c"],
  ["reask_rate", "re-ask rate", "#2b8a3e"],
  ["handoff_rate", "handoff rate", "#c2255c"],
  ["fallback_rate", "fallback rate", "#7048e8"],
  ["guard_rate", "guard intervention rate", "#495057"],
];

function pctOrNull(v) { return v === null || v === undefined ? null : v * 100; }

function seriesSpec() {
  return [{ label: "response time (ms)", stroke: "#1c7ed6", width: 2, scale: "ms", points: { show: true } }]
    .concat(RATES.map(([, label, col]) => ({ label: label + " (%)", stroke: col, width: 2, scale: "%", points: { show: true } })));
}

function drawMetrics(m) {
  window.turngateCharts = [];
  const width = Math.min(1100, document.querySelector("main").clientWidth - 40);
  const axes = (xAxis) => [xAxis,
    { scale: "ms", label: "ms", stroke: "#1c7ed6" },
    { scale: "%", label: "% of calls", side: 1, grid: { show: false } }];
  const scales = { "%": { range: [0, 100] }, ms: { range: (u, lo, hi) => [0, Math.max(100, hi * 1.1)] } };
  const t = m.over_time;
  const timeData = [t.t, t.response_ms].concat(RATES.map(([k]) => t[k].map(pctOrNull)));
  const timeOpts = { width, height: 300, scales: Object.assign({ x: { time: true } }, scales),
    series: [{ label: "time" }].concat(seriesSpec()), axes: axes({}) };
  const el1 = document.getElementById("chart-time");
  el1.dataset.series = String(timeData.length - 1);
  el1.dataset.points = String(t.t.length);
  window.turngateCharts.push(new uPlot(timeOpts, timeData, el1));

  const routes = Object.keys(m.per_route);
  const xs = routes.map((_, i) => i);
  const routeData = [xs, routes.map((r) => m.per_route[r].response_ms)]
    .concat(RATES.map(([k]) => routes.map((r) => pctOrNull(m.per_route[r][k]))));
  // A dot per route and series (bars of six series at one x would hide each other).
  const routeSeries = seriesSpec().map((s) => Object.assign({}, s, { paths: () => null,
    points: { show: true, size: 11, fill: s.stroke } }));
  const routeOpts = { width, height: 300, scales: Object.assign({ x: { time: false, range: [-0.6, routes.length - 0.4] } }, scales),
    series: [{ label: "route", value: (u, v) => (v === null ? "-" : routes[v]) }].concat(routeSeries),
    axes: axes({ values: (u, vals) => vals.map((v) => (Number.isInteger(v) && routes[v] !== undefined ? routes[v] : "")),
      splits: () => xs }) };
  const el2 = document.getElementById("chart-route");
  el2.dataset.series = String(routeData.length - 1);
  el2.dataset.points = String(routes.length);
  window.turngateCharts.push(new uPlot(routeOpts, routeData, el2));
}
