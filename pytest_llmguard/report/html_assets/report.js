// report.js: the page, built from the data block: verdict and what was compared, the
// budget table, per-target metrics, charts, the worst regressed cases and the cases.

function section(parent, title, id) {
  const body = el('section', { id: id }, [el('h2', { text: title })]);
  parent.appendChild(body);
  return body;
}

function simpleTable(headers, rows, cellClass) {
  return el('div', { class: 'scroll' }, [
    el('table', null, [
      el('thead', null, [
        el(
          'tr',
          null,
          headers.map((h, c) => el('th', { class: cellClass(c, null), text: h })),
        ),
      ]),
      el(
        'tbody',
        null,
        rows.map((row) =>
          el(
            'tr',
            null,
            row.map((cell, c) => el('td', { class: cellClass(c, cell), text: cell })),
          ),
        ),
      ),
    ]),
  ]);
}

function header(app, data) {
  const run = data.run;
  const verdict = data.verdict;
  app.appendChild(
    el('h1', null, [
      el('span', { class: 'badge v-' + verdict, text: verdict.toUpperCase() }),
      'llmguard report',
    ]),
  );
  if (data.partial)
    app.appendChild(
      el('div', { class: 'banner' }, [
        'Partial run: not everything was judged, so this is no PASS:',
        el('ul', null, data.incomplete.map((reason) => el('li', { text: reason }))),
      ]),
    );
  if (data.failed_items)
    app.appendChild(el('div', { class: 'banner' }, ['Failed cases: ' + data.failed_items]));
  if (data.compared) app.appendChild(el('div', { text: data.compared }));
  const fact = (label, value) =>
    value === null || value === undefined || value === ''
      ? null
      : el('span', null, [label + ' ', el('b', { text: String(value) })]);
  app.appendChild(
    el('div', { class: 'facts' }, [
      fact('cases', grouped(data.cases.id.length, 0)),
      fact('calls', grouped(run.observations, 0)),
      run.cached ? fact('from cache', grouped(run.cached, 0)) : null,
      fact('started', run.started_at),
      fact('duration', run.duration_s === null ? null : run.duration_s.toFixed(1) + ' s'),
      fact('commit', run.commit ? run.commit.slice(0, 12) : null),
      fact('branch', run.branch),
      fact('config', run.config_path ? run.config_path.split(/[\\/]/).pop() : null),
      fact('pytest-llmguard', data.version),
    ]),
  );
  const notes = data.notes.concat(data.judge ? [data.judge] : []);
  if (notes.length)
    app.appendChild(
      el(
        'ul',
        { class: 'notes' },
        notes.map((note) => el('li', { text: note })),
      ),
    );
}

function budgetSection(app, data) {
  const body = section(app, 'Budgets', 'budgets');
  if (!data.budgets.rows.length) {
    body.appendChild(el('div', { class: 'empty', text: 'no budgets were judged' }));
    return;
  }
  body.appendChild(
    simpleTable(data.budgets.headers, data.budgets.rows, (c, cell) =>
      c === 0 && cell ? 'status t-' + cell.toLowerCase() : c >= 2 && c <= 4 ? 'num' : '',
    ),
  );
}

function targetSection(app, data) {
  if (!data.targets.rows.length) return;
  const body = section(app, 'Per-target metrics', 'targets');
  body.appendChild(
    simpleTable(data.targets.headers, data.targets.rows, (c) => (c > 0 ? 'num' : '')),
  );
}

function series(data, field) {
  return data.sides.map((side, k) => ({
    text: side.label + ' · ' + grouped(side[field].length, 0) + ' values',
    color: COLORS[k % COLORS.length],
    values: side[field],
  }));
}

function histogramFigure(data, title, field, opts, caption) {
  const all = series(data, field);
  const drawn = histogram(Object.assign({ series: all }, opts));
  const folded = drawn.clipped
    ? ' Values above ' + fmtUnit(drawn.hi, opts.unit) + ' are counted in the last bin.'
    : '';
  return figure(title, [legend(all), drawn.chart], caption + folded);
}

function scatterFigure(report, pick) {
  const { data, sides, status } = report;
  const metrics = [
    ['similarity to the reference', 'sim', 'score', [0, 1]],
    ['latency (ms)', 'lat', 'ms', null],
    ['output tokens', 'out', 'tokens', null],
  ];
  const holder = el('div');
  const caption = el('figcaption');
  const choose = el(
    'select',
    { 'aria-label': 'scatter metric' },
    metrics.map((m, k) => el('option', { value: String(k), text: m[0] })),
  );
  const highlight = status.map((s) => s === 'regressed');
  function draw() {
    const [label, field, unit, range] = metrics[Number(choose.value)];
    const drawn = scatter({
      xs: sides[0][field],
      ys: sides[1][field],
      unit: unit,
      range: range,
      highlight: highlight,
      color: COLORS[1],
      xlabel: 'baseline →',
      ylabel: '↑ candidate',
      onPick: pick,
    });
    clear(holder);
    holder.appendChild(drawn.chart);
    caption.textContent =
      grouped(drawn.n, 0) +
      ' cases with a ' +
      label +
      ' on both sides (the shown repeat). ' +
      'On the dashed diagonal nothing changed; red: regressed cases. Click a point to open its case.';
  }
  choose.addEventListener('change', draw);
  draw();
  const fig = figure('Per case: baseline vs candidate', [
    el('div', { class: 'controls' }, [choose]),
    holder,
  ]);
  fig.appendChild(caption);
  return fig;
}

function chartSection(app, report, pick) {
  const data = report.data;
  const body = section(app, 'Charts', 'charts');
  const grid = el('div', { class: 'charts' });
  body.appendChild(grid);
  const marks = (metric) =>
    data.sides.map((side, k) => ({
      value: side.metrics[metric],
      color: COLORS[k % COLORS.length],
    }));
  grid.appendChild(
    histogramFigure(
      data,
      'Latency distribution',
      'lat_all',
      { unit: 'ms', bins: 30, marks: marks('latency_p95_ms'), xlabel: 'ms' },
      "Every successful call, all repeats, as a share of each side's calls. Dashed: p95.",
    ),
  );
  grid.appendChild(
    histogramFigure(
      data,
      'Similarity to the reference',
      'sim_all',
      {
        unit: 'score',
        bins: 20,
        range: [0, 1],
        marks: marks('similarity_mean'),
        xlabel: 'similarity',
      },
      'Cases with an expected answer. Dashed: mean similarity.',
    ),
  );
  if (data.sides.length === 2) grid.appendChild(scatterFigure(report, pick));
  const sideSeries = data.sides.map((side, k) => ({
    text: side.label,
    color: COLORS[k % COLORS.length],
  }));
  const metric = (text, name, unit) => ({
    text: text,
    unit: unit,
    values: data.sides.map((s) => s.metrics[name]),
  });
  grid.appendChild(
    figure(
      'Cost and tokens',
      [
        legend(sideSeries),
        bars(
          [
            metric('mean input tokens', 'input_tokens_mean', 'tokens'),
            metric('mean output tokens', 'output_tokens_mean', 'tokens'),
            metric('cost per response', 'cost_per_response_usd', 'usd'),
            metric('total cost of the run', 'cost_total_usd', 'usd'),
          ],
          sideSeries,
        ),
      ],
      'As the summary computed them (n/a: a price is unknown).',
    ),
  );
  grid.appendChild(
    histogramFigure(
      data,
      'Output tokens',
      'out_all',
      { unit: 'tokens', bins: 30, xlabel: 'tokens' },
      'Every successful call, all repeats.',
    ),
  );
  const classes = [];
  for (const side of data.sides)
    for (const name of Object.keys(side.errors)) if (!classes.includes(name)) classes.push(name);
  grid.appendChild(
    figure(
      'Errors by class',
      classes.length
        ? [
            legend(sideSeries),
            bars(
              classes.map((name) => ({
                text: name,
                unit: 'count',
                values: data.sides.map((s) => s.errors[name] || 0),
              })),
              sideSeries,
            ),
          ]
        : [el('div', { class: 'empty', text: 'no call failed' })],
      'Failed calls (after retries) per error class.',
    ),
  );
}

function regressionSection(app, report, pick) {
  const data = report.data;
  if (!data.regressions.length) return;
  const body = section(
    app,
    'Worst regressed cases (' + data.regressions.length + ')',
    'regressions',
  );
  let index = null;
  for (const r of data.regressions) {
    const open = el('button', {
      type: 'button',
      class: 'link',
      text: r.key,
      title: 'show this case in the table',
    });
    open.addEventListener('click', () => {
      if (index === null) {
        index = new Map();
        for (let i = 0; i < report.n; i++) index.set(report.key(i), i);
      }
      if (index.has(r.key)) pick(index.get(r.key));
    });
    body.appendChild(
      el('div', { class: 'regression' }, [
        el('div', null, [
          open,
          el('span', { class: 'muted', text: '  output similarity ' + fmt(r.similarity, 'score') }),
        ]),
        el('div', { class: 'reason', text: r.reason }),
        diffView(r.before, r.after),
      ]),
    );
  }
}

// A data block: JSON, or for a large report gzip+base64 (inflated by the browser).
async function readBlock(id) {
  const node = document.getElementById(id);
  if (node.getAttribute('data-encoding') !== 'gzip+base64') return JSON.parse(node.textContent);
  const text = node.textContent.trim();
  let bytes;
  if (typeof Uint8Array.fromBase64 === 'function') {
    bytes = Uint8Array.fromBase64(text);
  } else {
    const binary = atob(text);
    bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  }
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return JSON.parse(await new Response(stream).text());
}

function main(data) {
  performance.mark('llmguard:data');
  const cases = data.cases;
  const sides = cases.sides;
  const n = cases.id.length;
  const status = new Array(n);
  for (let i = 0; i < n; i++) status[i] = caseStatus(sides, i);
  let textsRead;
  const report = {
    data: data,
    sides: sides,
    S: data.strings,
    texts: null, // the long texts: outputs, references, prompts, why a case failed
    textsReady: new Promise((resolve) => (textsRead = resolve)),
    status: status,
    n: n,
    key: (i) => cases.sets[cases.set[i]] + '::' + cases.id[i],
  };
  const app = document.getElementById('app');
  document.title = 'llmguard ' + data.verdict.toUpperCase();
  let table = null;
  const pick = (i) => table && table.show(i);
  header(app, data);
  budgetSection(app, data);
  regressionSection(app, report, pick);
  performance.mark('llmguard:tables');
  chartSection(app, report, pick);
  performance.mark('llmguard:charts');
  targetSection(app, data);
  table = caseTable(report, section(app, 'Cases', 'cases-section'));
  performance.mark('llmguard:cases');
  afterPaint(() => {
    document.documentElement.setAttribute('data-render-ms', performance.now().toFixed(1));
    // Only now the long texts: the first render does not wait for them.
    readBlock('llmguard-texts')
      .then((texts) => {
        report.texts = texts;
        textsRead(texts);
        document.documentElement.setAttribute('data-texts-ms', performance.now().toFixed(1));
      })
      .catch(unreadable);
  });
}

function unreadable(error) {
  const app = document.getElementById('app');
  app.appendChild(el('div', { class: 'banner', text: 'This report could not be read: ' + error }));
  throw error;
}

readBlock('llmguard-data').then(main).catch(unreadable);
