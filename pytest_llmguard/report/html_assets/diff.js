// diff.js: a word diff of two outputs (baseline -> candidate) for the page, computed only
// for the case a reader opens. Words are split on whitespace, as in the PR comment.

const MAX_DIFF_CELLS = 4000000; // beyond this the middle is shown as replaced whole

// [[op, words]] with op '=' (same), '-' (only in a), '+' (only in b).
function wordDiff(a, b) {
  const x = a.split(/\s+/).filter(Boolean);
  const y = b.split(/\s+/).filter(Boolean);
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  const ops = [];
  const push = (op, word) => {
    const last = ops[ops.length - 1];
    if (last && last[0] === op) last[1].push(word);
    else ops.push([op, [word]]);
  };
  for (let i = 0; i < start; i++) push('=', x[i]);
  const n = endX - start;
  const m = endY - start;
  if (n * m > MAX_DIFF_CELLS) {
    for (let i = start; i < endX; i++) push('-', x[i]);
    for (let j = start; j < endY; j++) push('+', y[j]);
  } else if (n > 0 || m > 0) {
    // Longest common subsequence table of the differing middle, filled from the end.
    const width = m + 1;
    const table = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i * width + j] =
          x[start + i] === y[start + j]
            ? table[(i + 1) * width + j + 1] + 1
            : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[start + i] === y[start + j]) {
        push('=', x[start + i]);
        i++;
        j++;
      } else if (i < n && (j === m || table[(i + 1) * width + j] >= table[i * width + j + 1])) {
        push('-', x[start + i]);
        i++;
      } else {
        push('+', y[start + j]);
        j++;
      }
    }
  }
  for (let i = endX; i < x.length; i++) push('=', x[i]);
  return ops;
}

// The diff as text nodes in <del>/<ins>, for a reader (and for copying as plain text).
function diffView(a, b) {
  const node = el('div', { class: 'diff' });
  const ops = wordDiff(a, b);
  if (!ops.some((op) => op[0] !== '=')) {
    node.appendChild(el('span', { class: 'muted', text: '(no word-level differences)' }));
    return node;
  }
  ops.forEach(([op, words], index) => {
    if (index > 0) node.appendChild(document.createTextNode(' '));
    const text = words.join(' ');
    node.appendChild(
      op === '=' ? document.createTextNode(text) : el(op === '-' ? 'del' : 'ins', { text: text }),
    );
  });
  return node;
}
