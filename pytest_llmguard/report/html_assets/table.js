// table.js: the case table. Sortable by any column, filtered by text, status and set,
// one page of rows in the document at a time (so 10,000 cases stay fast). A row opens
// to its detail (detail.js).

const STATUS_RANK = { regressed: 0, failing: 1, fail: 1, missing: 2, new: 3, fixed: 4, pass: 5 };

function caseStatus(sides, i) {
  const ok = (s) => s.n[i] > 0 && s.pass[i] === s.n[i];
  if (sides.length !== 2) return sides.some((s) => s.n[i] > 0 && !ok(s)) ? 'fail' : 'pass';
  const [base, cand] = sides;
  if (!cand.n[i]) return 'missing';
  if (!base.n[i]) return ok(cand) ? 'new' : 'failing';
  if (ok(base)) return ok(cand) ? 'pass' : 'regressed';
  return ok(cand) ? 'fixed' : 'failing';
}

function numberColumn(label, values, unit, title) {
  return {
    label: label,
    title: title,
    num: true,
    sortKey: (i) => (values[i] === null ? NaN : values[i]),
    cell: (i) => (values[i] === null ? '' : fmt(values[i], unit)),
  };
}

function buildColumns(report) {
  const { data, sides, S, status } = report;
  const cases = data.cases;
  const two = sides.length === 2;
  const short = (k) => (two ? ['base', 'cand'][k] : sides.length === 1 ? '' : data.sides[k].name);
  const suffix = (k) => (short(k) ? ' ' + short(k) : '');
  const errors = (i) =>
    sides
      .map((s, k) => (s.err[i] ? (short(k) ? short(k) + ': ' : '') + S[s.err[i]] : ''))
      .filter(Boolean)
      .join(', ');
  const columns = [
    {
      label: 'case',
      title: 'golden set and case id',
      sortKey: (i) => report.key(i),
      cell: (i) =>
        el('span', null, [
          el('b', { text: cases.id[i] }),
          el('div', {
            class: 'set',
            text: cases.sets[cases.set[i]] + (cases.tags[i] ? '  · ' + S[cases.tags[i]] : ''),
          }),
        ]),
      cls: 'key',
    },
    {
      label: 'status',
      title: two ? 'regressed: baseline passed, candidate fails; fixed: the other way' : 'checks',
      sortKey: (i) => STATUS_RANK[status[i]],
      cell: (i) => el('span', { class: 'status s-' + status[i], text: status[i] }),
    },
  ];
  const perSide = (label, field, unit, title) =>
    sides.forEach((s, k) => {
      columns.push(
        numberColumn(label + suffix(k), s[field], unit, title + ' (' + data.sides[k].label + ')'),
      );
    });
  perSide('sim', 'sim', 'score', 'similarity to the reference, 0..1');
  if (two) {
    const d = sides[0].sim.map((b, i) =>
      b === null || sides[1].sim[i] === null ? null : sides[1].sim[i] - b,
    );
    columns.push(
      Object.assign(numberColumn('Δ sim', d, 'score', 'candidate minus baseline similarity'), {
        cell: (i) => (d[i] === null ? '' : fmtDelta(d[i], 'score')),
      }),
    );
  }
  perSide('ms', 'lat', 'ms', 'latency of the shown repeat, ms');
  if (sides.length <= 2) perSide('out tok', 'out', 'tokens', 'output tokens');
  const costSides = two ? [1] : sides.length === 1 ? [0] : [];
  for (const k of costSides) {
    columns.push(numberColumn('$' + suffix(k), sides[k].cost, 'usd', 'cost of the shown repeat'));
  }
  columns.push({
    label: 'error',
    title: 'error class of the shown repeat',
    sortKey: (i) => errors(i),
    cell: (i) => errors(i),
  });
  return columns;
}

function caseTable(report, root) {
  const { data, sides, S, status, n } = report;
  const columns = buildColumns(report);
  const state = {
    text: '',
    status: 'all',
    set: -1,
    sort: -1,
    desc: false,
    page: 0,
    size: 50,
    only: -1,
  };
  const open = new Set();
  let haystack = null;
  let view = [];

  const search = el('input', {
    type: 'search',
    placeholder: 'filter: case, tag, output, failure…',
    'aria-label': 'filter cases',
  });
  const statusSelect = el('select', { 'aria-label': 'status' });
  const statuses =
    sides.length === 2
      ? ['all', 'regressed', 'failing', 'fixed', 'changed output', 'errors', 'missing', 'new']
      : ['all', 'fail', 'errors'];
  for (const s of statuses) statusSelect.appendChild(el('option', { value: s, text: s }));
  const setSelect = el('select', { 'aria-label': 'golden set' }, [
    el('option', { value: '-1', text: 'every set' }),
  ]);
  data.cases.sets.forEach((name, k) =>
    setSelect.appendChild(el('option', { value: String(k), text: name })),
  );
  const sizeSelect = el('select', { 'aria-label': 'rows per page' });
  for (const s of [50, 100, 500])
    sizeSelect.appendChild(
      el('option', { value: String(s), text: s + ' rows', selected: s === 50 ? 'selected' : null }),
    );
  const count = el('span', { class: 'muted' });
  const pinned = el('button', { type: 'button', class: 'link', hidden: 'hidden' });
  const thead = el('thead');
  const tbody = el('tbody');
  const prev = el('button', { type: 'button', text: '‹ previous' });
  const next = el('button', { type: 'button', text: 'next ›' });
  const pageInfo = el('span', { class: 'muted' });
  const table = el('table', { id: 'cases' }, [thead, tbody]);
  append(root, [
    el('div', { class: 'controls' }, [search, statusSelect, setSelect, sizeSelect, count, pinned]),
    el('div', { class: 'scroll' }, [table]),
    el('div', { class: 'pager' }, [prev, pageInfo, next]),
  ]);

  function text(i) {
    if (haystack === null) {
      const T = report.texts;
      haystack = new Array(n);
      for (let j = 0; j < n; j++) {
        const parts = [report.key(j), S[data.cases.tags[j]]];
        for (const s of sides) parts.push(T[s.text[j]], T[s.why[j]], S[s.err[j]]);
        haystack[j] = parts.join('\n').toLowerCase();
      }
    }
    return haystack[i];
  }

  function keep(i) {
    if (state.only >= 0) return i === state.only;
    if (state.set >= 0 && data.cases.set[i] !== state.set) return false;
    const st = state.status;
    if (st === 'errors' && !sides.some((s) => s.err[i])) return false;
    if (st === 'changed output' && sides[0].text[i] === sides[1].text[i]) return false;
    if (st !== 'all' && st !== 'errors' && st !== 'changed output' && status[i] !== st)
      return false;
    return !state.text || text(i).includes(state.text);
  }

  // Each column's full ascending order is computed once (missing values last); a sort
  // or a filter afterwards is one pass over it.
  const orders = new Map();
  function order(c) {
    if (!orders.has(c)) {
      const keys = new Array(n);
      let numeric = true;
      for (let i = 0; i < n; i++) {
        const key = columns[c].sortKey(i);
        keys[i] = key;
        if (typeof key !== 'number') numeric = false;
      }
      const missing = (k) =>
        numeric ? Number.isNaN(k) : k === '' || k === null || k === undefined;
      const present = [];
      const absent = [];
      for (let i = 0; i < n; i++) (missing(keys[i]) ? absent : present).push(i);
      present.sort(
        numeric
          ? (a, b) => keys[a] - keys[b] || a - b
          : (a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b),
      );
      orders.set(c, { present: present, absent: absent });
    }
    return orders.get(c);
  }

  function compute() {
    view = [];
    if (state.sort < 0) {
      for (let i = 0; i < n; i++) if (keep(i)) view.push(i);
      return;
    }
    const { present, absent } = order(state.sort);
    if (state.desc) {
      // descending, ties still in key order: walk runs of equal keys backwards
      const keys = columns[state.sort].sortKey;
      let end = present.length;
      while (end > 0) {
        let start = end - 1;
        const key = keys(present[start]);
        while (start > 0 && keys(present[start - 1]) === key) start--;
        for (let k = start; k < end; k++) if (keep(present[k])) view.push(present[k]);
        end = start;
      }
    } else {
      for (const i of present) if (keep(i)) view.push(i);
    }
    for (const i of absent) if (keep(i)) view.push(i);
  }

  function renderHead() {
    clear(thead);
    const row = el('tr');
    columns.forEach((col, c) => {
      const arrow = state.sort === c ? (state.desc ? ' ▼' : ' ▲') : '';
      const th = el(
        'th',
        {
          class: 'sortable' + (col.num ? ' num' : ''),
          title: (col.title || col.label) + ' (click to sort)',
          'data-col': c,
        },
        [col.label, el('span', { class: 'arrow', text: arrow })],
      );
      th.addEventListener('click', (event) => {
        state.desc = state.sort === c ? !state.desc : false;
        state.sort = c;
        state.page = 0;
        update(event);
      });
      row.appendChild(th);
    });
    thead.appendChild(row);
  }

  function renderBody() {
    clear(tbody);
    const pages = Math.max(1, Math.ceil(view.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * state.size;
    const rows = document.createDocumentFragment();
    for (const i of view.slice(first, first + state.size)) {
      const tr = el('tr', { class: 'case' + (open.has(i) ? ' open' : ''), 'data-case': i });
      for (const col of columns) {
        tr.appendChild(
          el('td', { class: (col.num ? 'num' : '') + (col.cls ? ' ' + col.cls : '') }, [
            col.cell(i),
          ]),
        );
      }
      tr.addEventListener('click', () => {
        if (open.has(i)) open.delete(i);
        else open.add(i);
        renderBody();
      });
      rows.appendChild(tr);
      if (open.has(i)) {
        rows.appendChild(
          el('tr', { class: 'detail' }, [
            el('td', { colspan: columns.length }, [caseDetail(report, i)]),
          ]),
        );
      }
    }
    if (!view.length)
      rows.appendChild(
        el('tr', null, [
          el('td', { colspan: columns.length, class: 'empty', text: 'no case matches' }),
        ]),
      );
    tbody.appendChild(rows);
    const last = Math.min(first + state.size, view.length);
    const shown = view.length ? grouped(first + 1, 0) + '–' + grouped(last, 0) : '0';
    count.textContent = grouped(view.length, 0) + ' of ' + grouped(n, 0) + ' cases';
    pageInfo.textContent =
      'showing ' +
      shown +
      ' of ' +
      grouped(view.length, 0) +
      ' · page ' +
      (state.page + 1) +
      ' of ' +
      pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  function update(event) {
    const started = event && event.timeStamp ? event.timeStamp : performance.now();
    if (state.text && !report.texts) {
      // a text filter searches the outputs: wait for them (the time counts)
      report.textsReady.then(() => update({ timeStamp: started }));
      return;
    }
    compute();
    renderHead();
    renderBody();
    const built = performance.now() - started;
    afterPaint(() => {
      document.documentElement.setAttribute('data-update-js-ms', built.toFixed(1));
      document.documentElement.setAttribute(
        'data-update-ms',
        (performance.now() - started).toFixed(1),
      );
      document.documentElement.setAttribute(
        'data-updates',
        String(Number(document.documentElement.getAttribute('data-updates') || 0) + 1),
      );
    });
  }

  search.addEventListener('input', (event) => {
    state.text = search.value.trim().toLowerCase();
    state.page = 0;
    update(event);
  });
  statusSelect.addEventListener('change', (event) => {
    state.status = statusSelect.value;
    state.page = 0;
    update(event);
  });
  setSelect.addEventListener('change', (event) => {
    state.set = Number(setSelect.value);
    state.page = 0;
    update(event);
  });
  sizeSelect.addEventListener('change', (event) => {
    state.size = Number(sizeSelect.value);
    state.page = 0;
    update(event);
  });
  prev.addEventListener('click', (event) => {
    state.page -= 1;
    update(event);
  });
  next.addEventListener('click', (event) => {
    state.page += 1;
    update(event);
  });
  pinned.addEventListener('click', (event) => {
    state.only = -1;
    pinned.hidden = true;
    update(event);
  });

  // Open rows show their outputs once the long texts are read.
  report.textsReady.then(() => {
    if (open.size) renderBody();
  });

  // Default order: the cases that need a look first, then by key.
  state.sort = 1;
  update(null);
  return {
    show(i) {
      state.only = i;
      open.add(i);
      pinned.textContent = 'showing one case: ' + report.key(i) + ' (show all)';
      pinned.hidden = false;
      update(null);
      table.scrollIntoView({ block: 'start' });
    },
  };
}
