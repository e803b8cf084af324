// detail.js: what an opened row of the case table shows: each side's facts and output,
// the failed checks, the reference answer, the word diff and the prompt.

// The long texts arrive after the first render (report.texts); until then, a placeholder.
const LOADING = '(loading…)';

function longText(report, index) {
  return report.texts ? report.texts[index] : LOADING;
}

function sideDetail(report, k, i) {
  const s = report.sides[k];
  const info = report.data.sides[k];
  if (!s.n[i])
    return el('div', { class: 'side' }, [
      el('h4', { text: info.label }),
      el('div', { class: 'empty', text: 'not run for this case' }),
    ]);
  const facts = [
    'passed ' + s.pass[i] + '/' + s.n[i],
    s.n[i] > 1 ? 'repeat ' + (s.rep[i] + 1) + ' shown' : null,
    s.lat[i] !== null ? fmtUnit(s.lat[i], 'ms') : null,
    s.ttft[i] !== null ? 'first token ' + fmtUnit(s.ttft[i], 'ms') : null,
    s.in[i] !== null ? s.in[i] + ' → ' + s.out[i] + ' tokens' : null,
    s.cost[i] !== null ? fmt(s.cost[i], 'usd') : null,
    s.sim[i] !== null ? 'similarity ' + fmt(s.sim[i], 'score') : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return el('div', { class: 'side' }, [
    el('h4', { text: info.label }),
    el('div', { class: 'muted', text: facts }),
    s.why[i] ? el('div', { class: 'why', text: longText(report, s.why[i]) }) : null,
    s.text[i]
      ? el('pre', { class: 'out', text: longText(report, s.text[i]) })
      : el('div', { class: 'empty', text: '(no output)' }),
  ]);
}

function caseDetail(report, i) {
  const { sides, data } = report;
  const cases = data.cases;
  const panels = sides.map((_, k) => sideDetail(report, k, i));
  if (cases.expected[i]) {
    panels.push(
      el('div', { class: 'side' }, [
        el('h4', { text: 'reference (expected)' }),
        el('pre', { class: 'out', text: longText(report, cases.expected[i]) }),
      ]),
    );
  }
  const grid = el('div', { class: 'sides' }, panels);
  grid.style.gridTemplateColumns = 'repeat(' + panels.length + ', minmax(0, 1fr))';
  const parts = [el('div', { class: 'muted', text: report.key(i) }), grid];
  if (sides.length === 2 && sides[0].n[i] && sides[1].n[i] && report.texts) {
    parts.push(el('h4', { text: 'word diff (baseline → candidate)' }));
    parts.push(diffView(report.texts[sides[0].text[i]], report.texts[sides[1].text[i]]));
  }
  if (cases.prompt[i]) {
    parts.push(
      el('details', null, [
        el('summary', { text: 'prompt' }),
        el('pre', { class: 'out', text: longText(report, cases.prompt[i]) }),
      ]),
    );
  }
  return el('div', null, parts);
}
