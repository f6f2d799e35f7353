// The experiment page: its state and run, the transitions timeline, and per metric a live chart
// of both variants window by window with the change in each window.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import * as api from './api.js';
import { follow } from './live.js';
import { Report } from './report.js';
import { Manifests } from './manifests.js';
import { Coverage, LookChart } from './looks.js';
import { charted as metrics, pipelineLabel } from './labels.js';

const fmt = (v) => (v === undefined || v === null ? '—' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
const change = (b, c) => (b ? ((c - b) / b) * 100 : null);

// byWindow pairs the windows of both variants by start.
function byWindow(windows) {
  const m = new Map();
  for (const w of windows) {
    const k = Date.parse(w.window_start);
    if (!m.has(k)) m.set(k, {});
    m.get(k)[w.variant] = w;
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

function Chart({ rows, metric }) {
  const el = useRef(null);
  useEffect(() => {
    const xs = rows.map(([k]) => k / 1000);
    const val = (v) => rows.map(([, p]) => (p[v] && p[v].complete && p[v].kpis ? p[v].kpis[metric] ?? null : null));
    const plot = new uPlot({
      width: Math.min(el.current.clientWidth || 900, 1100), height: 260,
      series: [{}, { label: 'baseline', stroke: '#36c', width: 2 }, { label: 'candidate', stroke: '#d60', width: 2 }],
      axes: [{}, { size: 70 }],
    }, [xs, val('baseline'), val('candidate')], el.current);
    return () => plot.destroy();
  }, [rows, metric]);
  return h('div', { class: 'chart', ref: el, 'data-points': String(rows.length), 'data-starts': rows.map(([k]) => k / 1000).join(',') });
}

// Progress shows how far the run is, by the clock (the run may be extended, or end early).
function Progress({ exp }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(t); }, []);
  const elapsed = Math.max(0, Math.min(exp.duration_seconds, (now - Date.parse(exp.run_started_at)) / 1000));
  return h('p', { class: 'progress' }, h('progress', { max: exp.duration_seconds, value: Math.round(elapsed) }),
    ' ', Math.round(elapsed / 60) + ' of ' + Math.round(exp.duration_seconds / 60) + ' min');
}

// actions are the commands an experiment in each state accepts, with the permission each needs.
const actions = [
  ['start', 'Start', ['pending']],
  ['stop', 'Stop', ['pending', 'generating', 'deploying', 'running', 'analyzing']],
  ['promote', 'Promote the candidate', ['completed']],
  ['rollback', 'Roll back', ['completed']],
];

function Actions({ exp, onDone }) {
  const [error, setError] = useState('');
  const allowed = actions.filter(([verb, , states]) => states.includes(exp.state) && api.may('experiment:' + verb));
  if (allowed.length === 0) return null;
  const act = (verb) => api.post('/v1/experiments/' + exp.id + '/' + verb, { reason: 'from the console' })
    .then(() => { setError(''); onDone(); }).catch((e) => setError(e.message));
  return h('p', { class: 'actions' },
    allowed.map(([verb, label]) => h('button', { class: 'action', 'data-verb': verb, onClick: () => act(verb) }, label)),
    error && h('span', { class: 'error', role: 'alert' }, ' ' + error));
}

export function Experiment({ id, config, onBack, onSignOut }) {
  const [exp, setExp] = useState(null);
  const [transitions, setTransitions] = useState([]);
  const [windows, setWindows] = useState([]);
  const [looks, setLooks] = useState([]);
  const [metric, setMetric] = useState(metrics[0][0]);
  const [error, setError] = useState('');
  const load = () => Promise.all([
    api.get('/v1/experiments/' + id),
    api.get('/v1/experiments/' + id + '/transitions'),
    api.get('/v1/experiments/' + id + '/kpis?limit=5000'),
    api.get('/v1/experiments/' + id + '/looks'),
  ]).then(([e, t, k, l]) => { setExp(e); setTransitions(t.items); setWindows(k.items); setLooks(l.items.map((x) => x.look)); setError(''); })
    .catch((e) => (e.status === 401 ? onSignOut()
      : setError(e.status === 404 ? 'There is no such experiment in your tenant.' : e.message)));
  useEffect(() => { load(); }, [id]);
  useEffect(() => follow(config.gateway, 'experiment:' + id, (e) => {
    if (!e) return;
    if (e.type === 'io.phoenix.kpi.window-closed.v1') setWindows((ws) => ws.concat([e.data]));
    else if (e.type === 'io.phoenix.analysis.look.v1') setLooks((ls) => ls.concat([e.data]));
    else load();
  }, load), [id]);
  if (error) return h('div', null, h('p', null, h('a', { href: '#/', onClick: onBack }, '← Experiments')),
    h('p', { class: 'error', role: 'alert', id: 'problem' }, error));
  if (!exp) return h('p', { class: 'muted' }, 'Loading…');
  const rows = byWindow(windows);
  const recent = rows.slice(-8).reverse();
  return h('div', { class: 'experiment' },
    h('p', null, h('a', { href: '#/', onClick: onBack }, '← Experiments')),
    h('h1', null, exp.name),
    h('p', null, h('span', { class: 'state', id: 'state' }, exp.state), ' · ', pipelineLabel(exp.baseline), ' → ', pipelineLabel(exp.candidate),
      ' · ', Math.round(exp.duration_seconds / 60), ' min run', exp.verdict ? ' · verdict: ' + exp.verdict : ''),
    exp.state === 'running' && exp.run_started_at && h(Progress, { exp }),
    h(Actions, { exp, onDone: load }),
    h(Report, { exp }),
    h('h2', null, 'Measured, window by window'),
    h('label', { class: 'filter' }, 'Metric',
      h('select', { value: metric, onChange: (e) => setMetric(e.target.value) }, metrics.map(([m, l]) => h('option', { value: m }, l)))),
    h(Chart, { rows, metric }),
    h('h3', null, 'The change and its interval, look by look'),
    h(LookChart, { looks, metric }),
    rows.length === 0 ? h('p', { class: 'muted' }, 'No window has closed yet.')
      : h('table', { class: 'windows' },
        h('thead', null, h('tr', null, ['Window', 'Baseline', 'Candidate', 'Change'].map((c) => h('th', null, c)))),
        h('tbody', null, recent.map(([k, p]) => {
          const b = p.baseline && p.baseline.kpis ? p.baseline.kpis[metric] : undefined;
          const c = p.candidate && p.candidate.kpis ? p.candidate.kpis[metric] : undefined;
          const d = b !== undefined && c !== undefined ? change(b, c) : null;
          // A window not complete for both variants is not compared (nor charted): say why.
          const partial = [p.baseline, p.candidate].find((w) => !w || !w.complete);
          const why = !partial ? '' : partial.incomplete_reason || 'the run did not span the whole window, or a variant has not delivered it';
          return h('tr', { class: partial ? 'incomplete' : '' },
            h('td', null, new Date(k).toLocaleTimeString()),
            h('td', null, fmt(b)), h('td', null, fmt(c)),
            h('td', { title: why }, partial ? 'not compared: incomplete' : d === null ? '—' : (d > 0 ? '+' : '') + d.toFixed(1) + '%'));
        }))),
    h(Coverage, { rows }),
    h(Manifests, { id }),
    h('h2', null, 'Transitions'),
    h('ol', { class: 'timeline' }, transitions.map((t) => h('li', null,
      h('time', null, new Date(t.at).toLocaleTimeString()), ' ', t.from, ' → ', h('strong', null, t.to), t.reason ? ' — ' + t.reason : ''))));
}
