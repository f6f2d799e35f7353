// The success-criteria editor of the new-experiment form: one row per metric from GET /v1/metrics,
// starting at what the analysis does without criteria (docs/analysis.md). A goal must improve by
// at least its threshold; a guardrail must be shown no worse than its tolerance.
import { h } from 'preact';
import { label } from './labels.js';

// initial is the editor's state for the catalog: each metric's default, and whether it is decided.
export function initial(catalog) {
  return catalog.map((m) => ({ ...m.default, decide: m.decided_by_default }));
}

// toSpec is what the spec says for rows: nothing while they are the defaults (the analysis then
// applies its own, which may grow with Phoenix), else the decided rows as criteria.
export function toSpec(rows, catalog) {
  if (JSON.stringify(rows) === JSON.stringify(initial(catalog))) return undefined;
  return rows.filter((r) => r.decide).map((r) => (r.critical
    ? { metric: r.metric, critical: true, tolerance: r.tolerance, tolerance_floor: r.tolerance_floor || undefined }
    : { metric: r.metric, min_improvement: r.min_improvement || undefined }));
}

const pct = (f) => (f ? +(f * 100).toFixed(2) : 0);

export function Criteria({ rows, onChange }) {
  const set = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return h('fieldset', { class: 'criteria' },
    h('legend', null, 'Success criteria'),
    h('p', { class: 'muted' }, 'A goal must improve by at least its threshold; a guardrail must be shown no worse than its tolerance, or the candidate is rejected. Left as they are, Phoenix applies its defaults.'),
    h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'Metric'), h('th', null, 'Decide on'), h('th', null, 'Role'), h('th', null, 'Threshold (%)'))),
      h('tbody', null, rows.map((r, i) => h('tr', { 'data-metric': r.metric },
        h('td', null, label(r.metric)),
        h('td', null, h('input', { type: 'checkbox', name: 'criteria.' + r.metric + '.decide', checked: r.decide,
          'aria-label': 'decide on ' + label(r.metric), onChange: (e) => set(i, { decide: e.target.checked }) })),
        h('td', null, h('select', { name: 'criteria.' + r.metric + '.role', value: r.critical ? 'guardrail' : 'goal', disabled: !r.decide,
          'aria-label': 'role of ' + label(r.metric),
          onChange: (e) => set(i, e.target.value === 'guardrail'
            ? { critical: true, min_improvement: 0, tolerance: r.tolerance || 0.05 }
            : { critical: false, tolerance: 0, tolerance_floor: 0 }) },
        h('option', { value: 'goal' }, 'goal: must improve'),
        h('option', { value: 'guardrail' }, 'guardrail: no worse'))),
        h('td', null, h('input', { type: 'number', name: 'criteria.' + r.metric + '.percent', min: 0, max: 100, step: 0.1, disabled: !r.decide,
          'aria-label': (r.critical ? 'tolerance of ' : 'minimum improvement of ') + label(r.metric),
          value: pct(r.critical ? r.tolerance : r.min_improvement),
          onInput: (e) => {
            const f = Number(e.target.value) / 100;
            set(i, r.critical ? { tolerance: f } : { min_improvement: f });
          } })))))));
}
