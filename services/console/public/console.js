// Tidemark console: live Pipeline page (polls /api/pipeline, draws the latency chart as
// inline SVG), confirmation of destructive forms, auto-refresh of running jobs.
// Plain browser JavaScript, no dependencies, served from /assets (CSP 'self').
/* global document, window */
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const POLL_MS = 2000;
const SERIES = [
  ['p50_ms', 'p50'],
  ['p90_ms', 'p90'],
  ['p99_ms', 'p99'],
];

function text(el, value) {
  if (el) el.textContent = value;
}

function fmtRate(v) {
  return v === null || v === undefined ? '–' : `${v.toFixed(1)}/s`;
}

function svg(name, attrs) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

function drawChart(container, points, windowMs) {
  const width = 720;
  const height = 240;
  const pad = { left: 56, right: 12, top: 12, bottom: 28 };
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', 'aria-hidden': 'true' });
  const now = points.length ? points[points.length - 1].at_ms : Date.now();
  const start = now - windowMs;
  const maxMs = Math.max(10, ...points.map((p) => p.p99_ms));
  const x = (t) => pad.left + ((t - start) / windowMs) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / maxMs) * (height - pad.top - pad.bottom);
  chart.appendChild(svg('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), class: 'axis' }));
  chart.appendChild(svg('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(0), class: 'axis' }));
  for (const frac of [0, 0.5, 1]) {
    const label = svg('text', { x: pad.left - 6, y: y(maxMs * frac) + 4, 'text-anchor': 'end', class: 'tick' });
    label.textContent = `${Math.round(maxMs * frac)} ms`;
    chart.appendChild(label);
  }
  for (const minutesAgo of [10, 5, 0]) {
    const t = now - minutesAgo * 60000;
    if (t < start) continue;
    const label = svg('text', { x: x(t), y: height - 8, 'text-anchor': 'middle', class: 'tick' });
    label.textContent = minutesAgo === 0 ? 'now' : `-${minutesAgo} min`;
    chart.appendChild(label);
  }
  for (const [key, name] of SERIES) {
    const visible = points.filter((p) => p.at_ms >= start);
    if (visible.length === 0) continue;
    const d = visible.map((p) => `${x(p.at_ms).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    chart.appendChild(svg('polyline', { points: d, class: `series series-${name}` }));
  }
  let lx = pad.left + 8;
  for (const [, name] of SERIES) {
    chart.appendChild(svg('rect', { x: lx, y: pad.top, width: 12, height: 4, class: `legend series-${name}` }));
    const label = svg('text', { x: lx + 16, y: pad.top + 6, class: 'tick' });
    label.textContent = name;
    chart.appendChild(label);
    lx += 56;
  }
  container.replaceChildren(chart);
}

function renderPipeline(view) {
  const rates = document.getElementById('rates');
  for (const stage of ['accepted', 'screened', 'projected']) {
    text(rates.querySelector(`[data-stat="${stage}"]`), `${fmtRate(view.rates[stage])} (total ${view.totals[stage]})`);
  }
  const tbody = document.querySelector('#services tbody');
  tbody.replaceChildren(
    ...view.services.map((s) => {
      const tr = document.createElement('tr');
      tr.dataset.service = s.name;
      const ready = s.ready === null ? 'unreachable' : s.ready ? 'ready' : 'not ready';
      const checks = Object.entries(s.checks)
        .map(([k, ok]) => `${k} ${ok ? '✓' : '✗'}`)
        .join(', ');
      for (const [value, cls] of [
        [s.name],
        [ready, `state-${ready.replace(' ', '-')}`],
        [checks],
        [s.lag, 'num'],
        [s.ladder_depth, 'num'],
        [s.dlq_depth, 'num'],
      ]) {
        const td = document.createElement('td');
        td.textContent = String(value);
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      return tr;
    }),
  );
  const select = document.getElementById('event-type');
  const types = Object.keys(view.latency).sort();
  const chosen = select.value || types.find((t) => t === 'deposit.confirmed') || types[0] || '';
  if (select.options.length !== types.length || [...select.options].some((o, i) => o.value !== types[i])) {
    select.replaceChildren(
      ...types.map((t) => {
        const o = document.createElement('option');
        o.value = t;
        o.textContent = t;
        return o;
      }),
    );
  }
  select.value = chosen;
  drawChart(document.getElementById('latency-chart'), view.latency[chosen] || [], 10 * 60000);
  const latest = document.querySelector('#latency-table tbody');
  latest.replaceChildren(
    ...types.map((t) => {
      const p = view.latency[t][view.latency[t].length - 1];
      const tr = document.createElement('tr');
      for (const value of [t, p.count, p.p50_ms, p.p90_ms, p.p99_ms]) {
        const td = document.createElement('td');
        td.textContent = String(value);
        tr.appendChild(td);
      }
      return tr;
    }),
  );
  document.body.dataset.pipelineAt = String(view.at_ms || '');
}

async function pollPipeline() {
  try {
    const res = await window.fetch('/api/pipeline', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (res.status === 401) {
      window.location.assign('/login');
      return;
    }
    if (res.ok) renderPipeline(await res.json());
  } catch {
    // The console itself is unreachable: keep the last numbers and try again.
  }
  window.setTimeout(pollPipeline, POLL_MS);
}

document.addEventListener('DOMContentLoaded', () => {
  if (document.getElementById('rates')) {
    document.getElementById('event-type').addEventListener('change', () => pollPipeline());
    pollPipeline();
  }
  // Buttons (or forms) carrying data-confirm ask before submitting.
  for (const form of document.querySelectorAll('form')) {
    form.addEventListener('submit', (event) => {
      const question = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
      if (question && !window.confirm(question)) event.preventDefault();
    });
  }
  const refresh = document.querySelector('[data-refresh]');
  if (refresh) window.setTimeout(() => window.location.reload(), Number(refresh.dataset.refresh) * 1000);
});
