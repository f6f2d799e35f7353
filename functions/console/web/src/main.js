// The Phoenix console, first views: sign in, and the tenant's experiments, live.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from './api.js';
import { follow } from './live.js';
import { Experiment } from './experiment.js';
import { Create } from './create.js';
import { Admin } from './admin.js';
import { pipelineLabel } from './labels.js';

function Login({ onDone }) {
  const [error, setError] = useState('');
  const first = useRef(null);
  useEffect(() => first.current.focus(), []); // typing starts at once, no pointer needed
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api.login(f.get('tenant'), f.get('email'), f.get('password'));
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  return h('form', { class: 'login', onSubmit: submit },
    h('h1', null, 'Phoenix'),
    h('label', null, 'Tenant', h('input', { name: 'tenant', ref: first, required: true, autocomplete: 'organization' })),
    h('label', null, 'Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
    h('label', null, 'Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    error && h('p', { class: 'error', role: 'alert' }, error),
    h('button', { type: 'submit' }, 'Sign in'));
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}

function Experiments({ config, onSignOut }) {
  const [items, setItems] = useState(null);
  const [state, setState] = useState('');
  const [error, setError] = useState('');
  const load = () => api.get('/v1/experiments?limit=100' + (state ? '&state=' + state : ''))
    .then((p) => { setItems(p.items); setError(''); })
    .catch((e) => (e.status === 401 ? onSignOut() : setError(e.message)));
  useEffect(() => { load(); }, [state]);
  useEffect(() => follow(config.gateway, 'tenant', (e) => { if (e && e.type === 'io.phoenix.experiment.transitioned.v1') load(); }, load), [state]);
  const me = api.who();
  return h('div', null,
    h('header', null,
      h('h1', null, 'Experiments'),
      h('span', { class: 'muted' }, me.email + ' · tenant ' + me.tenant + ' '),
      h('button', { class: 'signout', onClick: () => api.logout().then(onSignOut) }, 'Sign out')),
    h('p', { class: 'links' },
      api.may('experiment:create') && h('a', { href: '#/new', class: 'new' }, 'New experiment'),
      (api.may('user:read') || api.may('audit:read')) && h('a', { href: '#/admin', class: 'admin' }, 'Administration')),
    h('label', { class: 'filter' }, 'State',
      h('select', { value: state, onChange: (e) => setState(e.target.value) },
        ['', 'pending', 'running', 'completed', 'failed', 'cancelled', 'promoted'].map((s) => h('option', { value: s }, s || 'any')))),
    error && h('p', { class: 'error', role: 'alert' }, error),
    items === null ? h('p', { class: 'muted' }, 'Loading…')
      : items.length === 0 ? h('p', { class: 'muted' }, 'No experiments yet. Create one with `phoenix experiment create`, or run `make run`.')
        : h('table', null,
          h('thead', null, h('tr', null, ['Name', 'State', 'Pipelines', 'Age', 'Verdict'].map((c, i) =>
            h('th', { class: ['', '', 'pair', 'age', ''][i] }, c)))),
          h('tbody', null, items.map((x) => h('tr', { 'data-id': x.id },
            h('td', null, h('a', { href: '#/experiments/' + x.id }, x.name)),
            h('td', { class: 'state' }, x.state),
            h('td', { class: 'pair' }, pipelineLabel(x.baseline) + ' → ' + pipelineLabel(x.candidate)),
            h('td', { class: 'age' }, age(x.created_at)),
            h('td', null, x.verdict || '—'))))));
}

// route is the view the location's hash names: #/ (experiments), #/new or #/experiments/<id>.
function route() {
  if (location.hash === '#/new') return 'new';
  if (location.hash === '#/admin') return 'admin';
  const m = location.hash.match(/^#\/experiments\/([0-9a-f-]{36})$/);
  return m ? m[1] : null;
}

function App({ config }) {
  const [signedIn, setSignedIn] = useState(null); // null: asking whether the cookie holds a session
  const [id, setID] = useState(route());
  useEffect(() => {
    api.restore().then(setSignedIn);
    const on = () => setID(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  if (signedIn === null) return h('p', { class: 'muted' }, 'Loading…');
  if (!signedIn) return h(Login, { onDone: () => setSignedIn(true) });
  const out = () => setSignedIn(false);
  if (id === 'admin') return h(Admin, { onBack: () => setID(null) });
  if (id === 'new') {
    return h(Create, { onBack: () => setID(null), onCreated: (created) => { location.hash = '#/experiments/' + created; } });
  }
  return id
    ? h(Experiment, { id, config, onBack: () => setID(null), onSignOut: out })
    : h(Experiments, { config, onSignOut: out });
}

// The gateway is where the API says, else on this host at /ws (an ingress routing it there).
fetch('/console/config.json').then((r) => r.json()).then((config) => {
  config.gateway = config.gateway || (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  render(h(App, { config }), document.getElementById('app'));
});
