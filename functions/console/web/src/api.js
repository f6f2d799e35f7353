// The console's session. The access token lives in this module's memory only; the refresh token
// lives in an HttpOnly, SameSite=Strict cookie the API sets (X-Phoenix-Session: cookie) and only
// the refresh and logout routes receive, so script never holds it and a reload keeps the session.
let session = null; // { access, expires, tenant, email, permissions }

export function signedIn() { return session !== null; }
export function who() { return session; }

async function call(method, path, body, token) {
  const headers = { Accept: 'application/json', 'X-Phoenix-Session': 'cookie' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
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
  begin(await call('POST', '/v1/auth/login', { tenant, email, password }));
  await describe();
}

// restore resumes the session the cookie holds (after a reload, or in a new tab); false when
// there is none.
export async function restore() {
  try {
    await refresh();
    await describe();
    return true;
  } catch {
    session = null;
    return false;
  }
}

function begin(t) {
  session = { ...session, access: t.access_token, expires: Date.now() + t.expires_in * 1000 };
}

// describe reads who is signed in and what they may do: the permissions decide which actions
// the console offers (the API checks again).
async function describe() {
  const me = await call('GET', '/v1/auth/me', undefined, session.access);
  session = { ...session, tenant: me.tenant.name, email: me.email, permissions: me.permissions || [] };
}

// refresh exchanges the cookie for a new access token. Each exchange rotates the cookie, and the
// API revokes a session whose old token is presented again, so the page's tabs take turns (a
// Web Lock shared by every tab of this origin): none ever sends a cookie another has spent.
function refresh() {
  const run = async () => begin(await call('POST', '/v1/auth/refresh', {}));
  return navigator.locks ? navigator.locks.request('phoenix-session', run) : run();
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
    await refresh();
    return session.access;
  } catch (e) {
    session = null;
    throw e;
  }
}

// logout revokes the session and clears its cookie.
export async function logout() {
  const s = session;
  session = null;
  if (s) await call('POST', '/v1/auth/logout', undefined, s.access).catch(() => {});
}
