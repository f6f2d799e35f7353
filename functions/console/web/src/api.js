// The console's session: tokens live in this module's memory only — never in localStorage or a
// cookie script can read — and every call carries the access token as a bearer.
let session = null; // { access, refresh, expires, tenant, email }

export function signedIn() { return session !== null; }
export function who() { return session; }

async function call(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error((data && (data.detail || data.title)) || 'the API answered ' + res.status);
    err.status = res.status;
    err.fields = (data && data.errors) || []; // per-field problems: [{field, message}]
    throw err;
  }
  return data;
}

export async function login(tenant, email, password) {
  const t = await call('POST', '/v1/auth/login', { tenant, email, password });
  session = { access: t.access_token, refresh: t.refresh_token, expires: Date.now() + t.expires_in * 1000, tenant, email, permissions: [] };
  // What the user may do decides which actions the console offers (the API checks again).
  const me = await call('GET', '/v1/auth/me', undefined, t.access_token);
  session.permissions = me.permissions || [];
}

// may reports whether the signed-in user holds permission (e.g. experiment:stop).
export function may(permission) { return session !== null && session.permissions.includes(permission); }

// authed calls the API with the session's token; a 401 ends the session.
async function authed(method, path, body) {
  try {
    return await call(method, path, body, await token());
  } catch (e) {
    if (e.status === 401) session = null;
    throw e;
  }
}

export const post = (path, body) => authed('POST', path, body);
export const get = (path) => authed('GET', path);

// token returns a valid access token, refreshing it when it is about to expire; a session that
// cannot be refreshed ends (the caller shows the login again).
export async function token() {
  if (!session) throw Object.assign(new Error('signed out'), { status: 401 });
  if (session.expires - Date.now() > 30000) return session.access;
  try {
    const t = await call('POST', '/v1/auth/refresh', { refresh_token: session.refresh });
    session = { ...session, access: t.access_token, refresh: t.refresh_token, expires: Date.now() + t.expires_in * 1000 };
    return session.access;
  } catch (e) {
    session = null;
    throw e;
  }
}

export async function logout() {
  const s = session;
  session = null;
  if (s) await call('POST', '/v1/auth/logout', undefined, s.access).catch(() => {});
}
