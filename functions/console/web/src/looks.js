// The change of one metric with its interval, look by look: how the evidence narrows as windows
// accumulate (the analyzer's looks, GET …/looks and live over the experiment's channel).
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export function LookChart({ looks, metric }) {
  const el = useRef(null);
  const points = looks
    .map((l) => [l.windows, (l.metrics || []).find((m) => m.metric === metric)])
    .filter(([, m]) => m && m.estimate !== undefined && m.estimate !== null)
    .sort((a, b) => a[0] - b[0]);
  useEffect(() => {
    if (points.length === 0) return undefined;
    const pctOf = (k) => points.map(([, m]) => (m[k] === undefined || m[k] === null ? null : m[k] * 100));
    const plot = new uPlot({
      width: Math.min(el.current.clientWidth || 900, 1100), height: 200,
      scales: { x: { time: false } },
      axes: [{ label: 'paired windows' }, { label: 'change %', size: 60 }],
      series: [{ label: 'windows' }, { label: 'low', stroke: '#999', dash: [4, 4] }, { label: 'change', stroke: '#d60', width: 2 },
        { label: 'high', stroke: '#999', dash: [4, 4] }],
    }, [points.map(([w]) => w), pctOf('low'), pctOf('estimate'), pctOf('high')], el.current);
    return () => plot.destroy();
  }, [JSON.stringify(points), metric]);
  if (points.length === 0) return h('p', { class: 'muted' }, 'No look has an interval for this metric yet.');
  return h('div', { class: 'chart looks', ref: el, 'data-looks': String(points.length) });
}

// Coverage is the critical processes × the last windows: covered by the candidate, missed by it
// (the baseline had it: red), or absent from the host (neither had it).
export function Coverage({ rows }) {
  const patterns = new Set();
  for (const [, p] of rows) for (const w of [p.baseline, p.candidate]) if (w) {
    (w.critical_covered || []).forEach((c) => patterns.add(c));
    (w.critical_missing || []).forEach((c) => patterns.add(c));
  }
  if (patterns.size === 0) return null;
  const recent = rows.slice(-24);
  const cell = (p, c) => {
    const inB = p.baseline && (p.baseline.critical_covered || []).includes(c);
    const inC = p.candidate && (p.candidate.critical_covered || []).includes(c);
    if (inC) return h('td', { class: 'covered', title: 'kept' }, '✓');
    if (inB) return h('td', { class: 'missed', title: 'the candidate lost it' }, '✗');
    return h('td', { class: 'absent', title: 'not running on the host' }, '·');
  };
  return h('section', { class: 'coverage' },
    h('h2', null, 'Critical processes, window by window'),
    h('table', null, h('tbody', null, [...patterns].sort().map((c) => h('tr', null,
      h('th', null, c), recent.map(([, p]) => cell(p, c)))))));
}
