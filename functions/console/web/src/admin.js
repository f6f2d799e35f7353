// The admin view, for those who may read users, service accounts or the audit log: each section
// shows only what the signed-in user may read.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import * as api from './api.js';

function Section({ title, permission, path, columns, row, id }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    if (api.may(permission)) api.get(path).then((r) => setItems(r.items)).catch((e) => setError(e.message));
  }, []);
  if (!api.may(permission)) return null;
  return h('section', { id },
    h('h2', null, title),
    error ? h('p', { class: 'error' }, error)
      : items === null ? h('p', { class: 'muted' }, 'Loading…')
        : h('table', null, h('thead', null, h('tr', null, columns.map((c) => h('th', null, c)))),
          h('tbody', null, items.map((x) => h('tr', null, row(x).map((v) => h('td', null, v)))))));
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

export function Admin({ onBack }) {
  return h('div', { class: 'admin' },
    h('p', null, h('a', { href: '#/', onClick: onBack }, '← Experiments')),
    h('h1', null, 'Administration'),
    h(Section, { id: 'users', title: 'Users', permission: 'user:read', path: '/v1/users?limit=200',
      columns: ['Email', 'Role', 'Created', 'Disabled'], row: (u) => [u.email, u.role, when(u.created_at), when(u.disabled_at)] }),
    h(Section, { id: 'service-accounts', title: 'Service accounts', permission: 'service-account:read', path: '/v1/service-accounts',
      columns: ['Name', 'Permissions', 'Created', 'Disabled'], row: (a) => [a.name, a.permissions.join(', '), when(a.created_at), when(a.disabled_at)] }),
    h(Section, { id: 'audit', title: 'Audit log (newest first)', permission: 'audit:read', path: '/v1/audit-events?limit=100',
      columns: ['When', 'Who', 'Action', 'Outcome'], row: (e) => [when(e.occurred_at), e.actor_type + ' ' + e.actor_id, e.action, e.outcome] }));
}
