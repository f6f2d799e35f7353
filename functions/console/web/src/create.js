// The new-experiment form: templates and their parameters from the API, and the tenant's own
// saved pipelines; each variant's pipeline checked as it is edited (POST /v1/pipelines/validate:
// Phoenix's rules, and the collector's own for a saved pipeline), critical processes, success
// criteria and duration; create, then start, then the experiment's page.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';
import { Criteria, initial, toSpec } from './criteria.js';

// saved turns the tenant's own pipelines into choices beside the templates: "saved:<name>", with
// the one parameter a custom pipeline takes (the scrape interval, as the templates declare it).
function saved(pipelines, templates) {
  const interval = templates[0].params.filter((p) => p.name === 'collection_interval');
  return pipelines.map((p) => ({
    name: 'saved:' + p.name, label: p.name + ' v' + p.version + ' (yours)', params: interval, saved: p,
    description: (p.description ? p.description + ': ' : '') + p.definition.processors.map((x) => x.name).join(' → '),
  }));
}

// request is what the API takes for a choice: a template, or a saved pipeline at its version.
export function request(choice, templates) {
  const tpl = templates.find((t) => t.name === choice.template);
  return tpl && tpl.saved
    ? { pipeline: tpl.saved.name, version: tpl.saved.version, parameters: choice.parameters }
    : { template: choice.template, parameters: choice.parameters };
}

function Pipeline({ variant, templates, choice, onChange }) {
  const [problems, setProblems] = useState([]);
  const tpl = templates.find((t) => t.name === choice.template);
  useEffect(() => {
    if (!tpl) return undefined;
    // A saved pipeline is checked as the API checked it when it was saved: by the collector.
    const body = tpl.saved ? { custom: tpl.saved.definition, parameters: choice.parameters, variant }
      : { template: choice.template, parameters: choice.parameters, variant };
    const timer = setTimeout(() => api.post('/v1/pipelines/validate', body)
      .then((r) => setProblems(r.valid ? [] : r.errors)).catch((e) => setProblems([e.message])), 250);
    return () => clearTimeout(timer);
  }, [choice.template, JSON.stringify(choice.parameters)]);
  const set = (name, value) => {
    const parameters = { ...choice.parameters };
    if (value === '') delete parameters[name]; else parameters[name] = value;
    onChange({ ...choice, parameters });
  };
  return h('fieldset', { class: 'pipeline', 'data-variant': variant },
    h('legend', null, variant),
    h('label', null, 'Pipeline (a template, or one of yours)',
      h('select', { name: variant + '.template', value: choice.template, onChange: (e) => onChange({ template: e.target.value, parameters: {} }) },
        templates.map((t) => h('option', { value: t.name }, t.label || t.name)))),
    tpl && h('p', { class: 'muted' }, tpl.description),
    tpl && tpl.params.filter((p) => p.name !== 'critical_processes').map((p) => h('label', null, p.name,
      h('input', { name: variant + '.' + p.name, placeholder: p.default || '', value: choice.parameters[p.name] || '',
        onInput: (e) => set(p.name, e.target.value) }),
      h('span', { class: 'muted' }, p.description + (p.min ? ' (' + p.min + '–' + p.max + ')' : '')))),
    problems.length > 0 && h('ul', { class: 'error problems', role: 'alert' }, problems.map((m) => h('li', null, m))));
}

export function Create({ onCreated, onBack }) {
  const [templates, setTemplates] = useState(null);
  const [baseline, setBaseline] = useState({ template: 'process-baseline', parameters: {} });
  const [candidate, setCandidate] = useState({ template: 'process-topk', parameters: {} });
  const [catalog, setCatalog] = useState(null);
  const [criteria, setCriteria] = useState([]);
  const [errors, setErrors] = useState([]);
  useEffect(() => {
    const own = api.may('pipeline:read') ? api.get('/v1/pipelines') : Promise.resolve({ items: [] });
    Promise.all([api.get('/v1/pipelines/templates'), api.get('/v1/metrics'), own]).then(([t, m, p]) => {
      setTemplates([...t.items, ...saved(p.items, t.items)]);
      setCatalog(m.items);
      setCriteria(initial(m.items));
    }).catch((e) => setErrors([e.message]));
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const critical = String(f.get('critical') || '').split(',').map((s) => s.trim()).filter(Boolean);
    const spec = { critical_processes: critical.length ? critical : undefined, success_criteria: toSpec(criteria, catalog) };
    const body = { name: f.get('name'), duration_seconds: Math.round(Number(f.get('minutes')) * 60),
      baseline: request(baseline, templates), candidate: request(candidate, templates),
      spec: spec.critical_processes || spec.success_criteria ? spec : undefined };
    try {
      const exp = await api.post('/v1/experiments', body);
      await api.post('/v1/experiments/' + exp.id + '/start', { reason: 'started from the console' });
      onCreated(exp.id);
    } catch (err) {
      setErrors(err.fields && err.fields.length ? err.fields.map((x) => x.field + ': ' + x.message) : [err.message]);
    }
  };
  if (!templates) return h('p', { class: 'muted' }, errors[0] || 'Loading…');
  return h('form', { class: 'create', onSubmit: submit },
    h('p', null, h('a', { href: '#/', onClick: onBack }, '← Experiments')),
    h('h1', null, 'New experiment'),
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxLength: 100 })),
    h(Pipeline, { variant: 'baseline', templates, choice: baseline, onChange: setBaseline }),
    h(Pipeline, { variant: 'candidate', templates, choice: candidate, onChange: setCandidate }),
    h('label', null, 'Critical processes (names, comma-separated: every pipeline must keep them)', h('input', { name: 'critical', placeholder: 'nginx, postgres' })),
    h(Criteria, { rows: criteria, onChange: setCriteria }),
    h('label', null, 'Run for (minutes)', h('input', { name: 'minutes', type: 'number', min: 1, max: 10080, step: 1, value: 10, required: true })),
    errors.length > 0 && h('ul', { class: 'error', role: 'alert', id: 'create-errors' }, errors.map((m) => h('li', null, m))),
    h('button', { type: 'submit' }, 'Create and start'));
}
