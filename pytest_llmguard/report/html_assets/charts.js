// charts.js: histograms, a scatter plot and bar charts drawn as inline SVG.
// Attributes are set one by one (never a style attribute: the page's policy forbids it).

const SVGNS = 'http://www.w3.org/2000/svg';
const W = 460;
const MARGIN = { left: 48, right: 14, top: 10, bottom: 36 };

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVGNS, tag);
  for (const name of Object.keys(attrs || {})) node.setAttribute(name, String(attrs[name]));
  if (parent) parent.appendChild(node);
  return node;
}

function svgText(parent, x, y, text, attrs) {
  const node = svg('text', Object.assign({ x: x, y: y }, attrs || {}), parent);
  node.textContent = text;
  return node;
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function sortedFinite(arrays) {
  let n = 0;
  for (const a of arrays) n += a.length;
  const all = new Float64Array(n);
  let i = 0;
  for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v)) all[i++] = v;
  return all.subarray(0, i).sort();
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))];
}

// [lo, hi] of the values; a long tail beyond 3x the 99.5th percentile is folded into
// the last bin (said in the caption) so that one outlier does not flatten the chart.
function domain(sorted, fixed) {
  if (fixed) return { lo: fixed[0], hi: fixed[1], clipped: false };
  const lo = sorted[0];
  let hi = sorted[sorted.length - 1];
  const q = quantile(sorted, 0.995);
  const clipped = hi - lo > 3 * (q - lo) && q > lo;
  if (clipped) hi = q;
  if (!(hi > lo)) hi = lo + (Math.abs(lo) || 1);
  return { lo: lo, hi: hi, clipped: clipped };
}

function frame(height) {
  const root = svg('svg', {
    viewBox: '0 0 ' + W + ' ' + height,
    role: 'img',
    class: 'chart',
    width: W,
    height: height,
  });
  return root;
}

function axes(root, height, x, xs, unit, y, ys, yfmt) {
  const bottom = height - MARGIN.bottom;
  for (const v of ys) {
    svg('line', { x1: MARGIN.left, x2: W - MARGIN.right, y1: y(v), y2: y(v), class: 'grid' }, root);
    svgText(root, MARGIN.left - 6, y(v) + 4, yfmt(v), { 'text-anchor': 'end' });
  }
  svg(
    'line',
    { x1: MARGIN.left, x2: W - MARGIN.right, y1: bottom, y2: bottom, class: 'axis' },
    root,
  );
  svg(
    'line',
    { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom, class: 'axis' },
    root,
  );
  for (const v of xs) {
    svg('line', { x1: x(v), x2: x(v), y1: bottom, y2: bottom + 4, class: 'axis' }, root);
    svgText(root, x(v), bottom + 16, fmt(v, unit), { 'text-anchor': 'middle' });
  }
}

function legend(items) {
  return el(
    'div',
    { class: 'legend' },
    items.map((item) =>
      el('span', null, [el('span', { class: 'swatch', 'data-color': item.color }), item.text]),
    ),
  );
}

// Swatches get their colour through the CSSOM (allowed by the policy, unlike style="").
function paintSwatches(root) {
  for (const node of root.querySelectorAll('.swatch')) {
    node.style.background = node.getAttribute('data-color');
  }
}

function figure(title, body, caption) {
  const fig = el('figure', null, [el('h3', { text: title })].concat(body));
  if (caption) fig.appendChild(el('figcaption', { text: caption }));
  paintSwatches(fig);
  return fig;
}

function emptyChart(text) {
  return el('div', { class: 'empty', text: text });
}

// Overlaid histograms, as a share of each series' values (series of different sizes
// compare by shape). opts: series [{text, color, values}], unit, bins, range, marks.
function histogram(opts) {
  const sorted = sortedFinite(opts.series.map((s) => s.values));
  if (!sorted.length) return { chart: emptyChart('no values'), clipped: false };
  const height = 230;
  const bins = opts.bins || 30;
  const dom = domain(sorted, opts.range);
  const width = (dom.hi - dom.lo) / bins;
  const shares = opts.series.map((s) => {
    const counts = new Float64Array(bins);
    let n = 0;
    for (const v of s.values) {
      if (v === null || !Number.isFinite(v)) continue;
      const b = Math.min(bins - 1, Math.max(0, Math.floor((v - dom.lo) / width)));
      counts[b] += 1;
      n += 1;
    }
    return n ? counts.map((c) => c / n) : counts;
  });
  let top = 0;
  for (const s of shares) for (const v of s) top = Math.max(top, v);
  top = top || 1;
  const bottom = height - MARGIN.bottom;
  const x = (v) =>
    MARGIN.left + ((v - dom.lo) / (dom.hi - dom.lo)) * (W - MARGIN.left - MARGIN.right);
  const y = (v) => bottom - (v / top) * (bottom - MARGIN.top);
  const root = frame(height);
  axes(
    root,
    height,
    x,
    ticks(dom.lo, dom.hi, 6),
    opts.unit,
    y,
    ticks(0, top, 4),
    (v) => Math.round(v * 100) + '%',
  );
  shares.forEach((share, k) => {
    let d = 'M' + x(dom.lo) + ' ' + bottom;
    share.forEach((v, b) => {
      d += 'L' + x(dom.lo + b * width).toFixed(1) + ' ' + y(v).toFixed(1);
      d += 'L' + x(dom.lo + (b + 1) * width).toFixed(1) + ' ' + y(v).toFixed(1);
    });
    d += 'L' + x(dom.hi) + ' ' + bottom + 'Z';
    const color = opts.series[k].color;
    svg(
      'path',
      { d: d, fill: color, 'fill-opacity': 0.25, stroke: color, 'stroke-width': 1.5 },
      root,
    );
  });
  for (const mark of opts.marks || []) {
    if (mark.value === null || mark.value < dom.lo || mark.value > dom.hi) continue;
    svg(
      'line',
      {
        x1: x(mark.value),
        x2: x(mark.value),
        y1: MARGIN.top,
        y2: bottom,
        stroke: mark.color,
        'stroke-width': 1.5,
        'stroke-dasharray': '5 3',
      },
      root,
    );
  }
  if (opts.xlabel)
    svgText(root, W - MARGIN.right, height - 4, opts.xlabel, { 'text-anchor': 'end' });
  return { chart: root, clipped: dom.clipped, hi: dom.hi };
}

// One point per case: x the baseline's value, y the candidate's, the diagonal is "no
// change". Highlighted points (regressed cases) are drawn red. onPick(i) on a click.
function scatter(opts) {
  const height = 330;
  const keep = [];
  for (let i = 0; i < opts.xs.length; i++) {
    const a = opts.xs[i];
    const b = opts.ys[i];
    if (a !== null && b !== null && Number.isFinite(a) && Number.isFinite(b)) keep.push(i);
  }
  if (!keep.length) return { chart: emptyChart('no case has a value on both sides'), n: 0 };
  const sorted = sortedFinite([keep.map((i) => opts.xs[i]), keep.map((i) => opts.ys[i])]);
  const dom = domain(sorted, opts.range);
  const side = Math.min(W - MARGIN.left - MARGIN.right, height - MARGIN.top - MARGIN.bottom);
  const bottom = MARGIN.top + side;
  const clamp = (v) => Math.min(dom.hi, Math.max(dom.lo, v));
  const x = (v) => MARGIN.left + ((clamp(v) - dom.lo) / (dom.hi - dom.lo)) * side;
  const y = (v) => bottom - ((clamp(v) - dom.lo) / (dom.hi - dom.lo)) * side;
  const root = frame(bottom + MARGIN.bottom);
  const tickValues = ticks(dom.lo, dom.hi, 5);
  for (const v of tickValues) {
    svg(
      'line',
      { x1: MARGIN.left, x2: MARGIN.left + side, y1: y(v), y2: y(v), class: 'grid' },
      root,
    );
    svgText(root, MARGIN.left - 6, y(v) + 4, fmt(v, opts.unit), { 'text-anchor': 'end' });
    svgText(root, x(v), bottom + 16, fmt(v, opts.unit), { 'text-anchor': 'middle' });
  }
  svg(
    'line',
    { x1: MARGIN.left, x2: MARGIN.left + side, y1: bottom, y2: bottom, class: 'axis' },
    root,
  );
  svg(
    'line',
    { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom, class: 'axis' },
    root,
  );
  svg(
    'line',
    {
      x1: x(dom.lo),
      y1: y(dom.lo),
      x2: x(dom.hi),
      y2: y(dom.hi),
      stroke: '#8c959f',
      'stroke-dasharray': '4 4',
    },
    root,
  );
  const paths = ['', ''];
  const px = new Float64Array(keep.length);
  const py = new Float64Array(keep.length);
  keep.forEach((i, k) => {
    px[k] = x(opts.xs[i]);
    py[k] = y(opts.ys[i]);
    const d = 'M' + (px[k] - 2).toFixed(1) + ' ' + (py[k] - 2).toFixed(1) + 'h4v4h-4z';
    paths[opts.highlight && opts.highlight[i] ? 1 : 0] += d;
  });
  svg(
    'path',
    { d: paths[0] || 'M0 0', fill: opts.color, 'fill-opacity': 0.55, class: 'points' },
    root,
  );
  svg(
    'path',
    { d: paths[1] || 'M0 0', fill: '#cf222e', 'fill-opacity': 0.85, class: 'points' },
    root,
  );
  svgText(root, MARGIN.left + side + 6, bottom, opts.xlabel, { 'text-anchor': 'start' });
  svgText(root, MARGIN.left + 4, MARGIN.top + 10, opts.ylabel, { 'text-anchor': 'start' });
  root.addEventListener('click', (event) => {
    const matrix = root.getScreenCTM();
    if (!matrix || !opts.onPick) return;
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
    let best = -1;
    let bestDistance = 64; // within 8 units
    for (let k = 0; k < keep.length; k++) {
      const d = (px[k] - point.x) ** 2 + (py[k] - point.y) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = k;
      }
    }
    if (best >= 0) opts.onPick(keep[best]);
  });
  return { chart: root, n: keep.length, clipped: dom.clipped };
}

// Horizontal bars, one group per metric, one bar per series. groups: [{text, unit,
// values: [per series]}]; series: [{text, color}].
function bars(groups, series) {
  const row = 16;
  const groupHeight = 18 + series.length * row + 8;
  const height = groups.length * groupHeight + 4;
  const left = 8;
  const labelWidth = 110;
  const root = frame(height);
  groups.forEach((group, g) => {
    const top = g * groupHeight;
    svgText(root, left, top + 13, group.text, { 'font-weight': 600 });
    let max = 0;
    for (const v of group.values)
      if (v !== null && Number.isFinite(v)) max = Math.max(max, Math.abs(v));
    group.values.forEach((v, k) => {
      const y = top + 18 + k * row;
      const span = W - left - labelWidth - 12;
      const length = v !== null && Number.isFinite(v) && max > 0 ? (Math.abs(v) / max) * span : 0;
      svg(
        'rect',
        {
          x: left,
          y: y + 2,
          width: Math.max(length, v ? 1 : 0),
          height: row - 5,
          fill: series[k].color,
          'fill-opacity': 0.85,
        },
        root,
      );
      svgText(root, left + length + 6, y + 12, fmtUnit(v, group.unit), { 'text-anchor': 'start' });
    });
  });
  return root;
}
