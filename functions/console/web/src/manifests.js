// The two collector configurations side by side, the lines only one of them has marked.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

// configOf takes the collector configuration (data.config.yaml, a block literal) out of a stored
// ConfigMap's YAML.
export function configOf(yaml) {
  const lines = yaml.split('\n');
  const at = lines.findIndex((l) => /^\s*config\.yaml: \|/.test(l));
  if (at < 0) return yaml;
  const out = [];
  let indent = null;
  for (const l of lines.slice(at + 1)) {
    const lead = l.length - l.trimStart().length;
    if (l.trim() !== '' && indent === null) indent = lead;
    if (l.trim() !== '' && lead < indent) break;
    out.push(l.slice(indent ?? 0));
  }
  return out.join('\n').trimEnd();
}

// diff marks, by a longest common subsequence of lines, which lines of a and of b the other lacks.
export function diff(a, b) {
  const n = a.length, m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const onlyA = new Set(), onlyB = new Set();
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { i++; j++; } else if (lcs[i + 1][j] >= lcs[i][j + 1]) onlyA.add(i++); else onlyB.add(j++);
  }
  while (i < n) onlyA.add(i++);
  while (j < m) onlyB.add(j++);
  return [onlyA, onlyB];
}

function Side({ title, lines, only, mark }) {
  return h('div', { class: 'side' }, h('h3', null, title),
    h('pre', null, lines.map((l, i) => h('div', { class: only.has(i) ? mark : '' }, l || ' '))));
}

export function Manifests({ id }) {
  const [open, setOpen] = useState(false);
  const [configs, setConfigs] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    if (!open || configs) return;
    api.get('/v1/experiments/' + id + '/manifests').then((r) => {
      const by = {};
      for (const m of r.items) if (m.kind === 'ConfigMap') by[m.variant] = configOf(m.content);
      setConfigs(by);
    }).catch((e) => setError(e.message));
  }, [open]);
  let body = null;
  if (error) body = h('p', { class: 'error' }, error);
  else if (configs && (!configs.baseline || !configs.candidate)) body = h('p', { class: 'muted' }, 'Not generated yet.');
  else if (configs) {
    const a = configs.baseline.split('\n'), b = configs.candidate.split('\n');
    const [onlyA, onlyB] = diff(a, b);
    body = h('div', { class: 'diff' },
      h(Side, { title: 'baseline', lines: a, only: onlyA, mark: 'removed' }),
      h(Side, { title: 'candidate', lines: b, only: onlyB, mark: 'added' }));
  }
  return h('details', { class: 'manifests', onToggle: (e) => setOpen(e.target.open) },
    h('summary', null, 'Collector configurations, side by side'), body);
}
