// format.js: building elements (text only, never parsed HTML) and writing numbers the
// way the other reports do (units.py): ms, tokens, usd, ratio.

const COLORS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2'];
const NA = 'n/a';

// An element with attributes from this script's own constants and children that are
// elements or plain text (always a text node: data never becomes markup).
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const name of Object.keys(attrs)) {
      const value = attrs[name];
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = String(value);
      else if (name === 'class') node.className = value;
      else node.setAttribute(name, String(value));
    }
  }
  if (children) append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// Intl.NumberFormat objects are costly to make: one per number of decimals, kept.
const NUMBER_FORMATS = new Map();

function grouped(v, decimals) {
  let format = NUMBER_FORMATS.get(decimals);
  if (format === undefined) {
    format = new Intl.NumberFormat('en-US', {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    NUMBER_FORMATS.set(decimals, format);
  }
  return format.format(v);
}

function money(v) {
  if (v === 0) return '$0';
  const magnitude = Math.floor(Math.log10(Math.abs(v)));
  const decimals = Math.min(10, Math.max(2, 3 - magnitude));
  return (v < 0 ? '-$' : '$') + grouped(Math.abs(v), decimals);
}

// A value without its unit word (units.format_number).
function fmt(v, unit) {
  if (v === null || v === undefined || !Number.isFinite(v)) return NA;
  if (unit === 'ratio') return (v * 100).toFixed(1) + '%';
  if (unit === 'usd') return money(v);
  if (unit === 'ms') return Math.abs(v) >= 100 ? grouped(v, 0) : v.toFixed(1);
  if (unit === 'score') return v.toFixed(2);
  if (unit === 'count' || Number.isInteger(v)) return grouped(v, 0);
  return grouped(v, 1);
}

// With its unit where the unit is a word: "187 ms", "40.2 tokens".
function fmtUnit(v, unit) {
  const text = fmt(v, unit);
  return text !== NA && (unit === 'ms' || unit === 'tokens') ? text + ' ' + unit : text;
}

function fmtDelta(v, unit) {
  if (v === null || !Number.isFinite(v)) return '';
  const sign = v > 0 ? '+' : v < 0 ? '-' : '±';
  return sign + fmt(Math.abs(v), unit);
}

// Elapsed time of an interaction, including the frame that shows its result.
function afterPaint(callback) {
  requestAnimationFrame(() => setTimeout(callback, 0));
}
