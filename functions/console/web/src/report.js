// The verdict report: per metric both means, the change with its interval drawn as a bar (a
// forest plot), the outcome and why; the rules applied; the report as JSON and as Markdown for a
// pull request.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';
import { label } from './labels.js';

const pct = (v) => (v > 0 ? '+' : '') + (v * 100).toFixed(1) + '%';
const num = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

// Forest draws a change and its interval on a −100%…+100% axis (clipped), zero marked.
function Forest({ c }) {
  const x = (v) => 100 + 100 * Math.max(-1, Math.min(1, v));
  return h('svg', { class: 'forest', viewBox: '0 0 200 20', width: 200, height: 20, role: 'img',
    'aria-label': 'change ' + pct(c.estimate) + ', interval ' + pct(c.low) + ' to ' + pct(c.high) },
    h('line', { x1: 100, x2: 100, y1: 0, y2: 20, class: 'zero' }),
    h('line', { x1: x(c.low), x2: x(c.high), y1: 10, y2: 10, class: 'interval' }),
    h('circle', { cx: x(c.estimate), cy: 10, r: 4, class: 'estimate' }));
}

// markdown renders the report for a pull request.
export function markdown(name, rep) {
  const r = rep.report;
  const lines = ['## Phoenix: ' + name + ' — ' + rep.verdict, '', r.reason, '',
    '| metric | baseline | candidate | change [interval] | outcome |', '|---|---|---|---|---|'];
  for (const m of r.metrics) {
    const c = m.change ? pct(m.change.estimate) + ' [' + pct(m.change.low) + ', ' + pct(m.change.high) + ']' : '—';
    lines.push('| ' + m.metric + ' | ' + num(m.baseline_mean) + ' | ' + num(m.candidate_mean) + ' | ' + c + ' | ' + m.outcome + ' |');
  }
  return lines.join('\n') + '\n';
}

function download(name, type, text) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function Report({ exp }) {
  const [rep, setRep] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    if (!exp.verdict) return;
    api.get('/v1/experiments/' + exp.id + '/analysis').then(setRep).catch((e) => setError(e.message));
  }, [exp.id, exp.verdict]);
  if (error) return h('p', { class: 'error', role: 'alert' }, error);
  if (!rep) return null;
  const r = rep.report;
  const md = markdown(exp.name, rep);
  return h('section', { class: 'report', id: 'report' },
    h('h2', null, 'Verdict: ', h('span', { class: 'verdict' }, rep.verdict)),
    h('p', null, r.reason),
    h('table', null,
      h('thead', null, h('tr', null, ['Metric', 'Baseline', 'Candidate', 'Change [interval]', '', 'Outcome'].map((c) => h('th', null, c)))),
      h('tbody', null, r.metrics.map((m) => h('tr', { class: 'metric' },
        h('td', { title: m.metric }, label(m.metric)),
        h('td', null, num(m.baseline_mean)),
        h('td', null, num(m.candidate_mean)),
        h('td', null, m.change ? pct(m.change.estimate) + ' [' + pct(m.change.low) + ', ' + pct(m.change.high) + ']' : '—'),
        h('td', null, m.change ? h(Forest, { c: m.change }) : ''),
        h('td', { title: m.reason }, m.outcome))))),
    h('details', null, h('summary', null, 'Rules applied'),
      h('ul', null, (r.trace || []).map((s) => h('li', null, h('strong', null, s.rule), ' ', s.result, ' — ', s.detail)))),
    h('p', null,
      h('button', { onClick: () => download('phoenix-' + exp.id + '.json', 'application/json', JSON.stringify(rep, null, 2)) }, 'Export JSON'), ' ',
      h('button', { onClick: () => download('phoenix-' + exp.id + '.md', 'text/markdown', md) }, 'Export Markdown')),
    h('label', null, 'For a pull request', h('textarea', { class: 'markdown', readOnly: true, rows: 8, value: md })));
}
