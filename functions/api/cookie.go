package api

import (
	"net/http"
	"time"

	"github.com/phoenixotel/phoenix/shared/problem"
)

// The console keeps its session across reloads without script ever holding the refresh token:
// a login or refresh that asks for it (the SessionHeader) answers with the refresh token in an
// HttpOnly, SameSite=Strict cookie scoped to the refresh and logout routes, instead of in the
// body. The access token still lives only in the page's memory and is sent as a bearer, so no
// other route ever honours the cookie.
//
// Cross-site request forgery is refused three times over for the routes that read or set the
// cookie: the browser does not send a SameSite=Strict cookie from another site; the custom
// header cannot be set cross-origin without a CORS preflight, which the API never grants; and
// net/http's CrossOriginProtection refuses a request whose Sec-Fetch-Site or Origin says it
// came from another origin.
const (
	// SessionHeader, set to "cookie" on login and refresh, asks for the cookie session.
	SessionHeader = "X-Phoenix-Session"
	// sessionCookie holds the refresh token.
	sessionCookie = "phoenix_session"
	// cookiePath scopes the cookie to /v1/auth/refresh and /v1/auth/logout: no other route
	// receives it.
	cookiePath = "/v1/auth/"
)

// wantsCookie reports whether the caller asked for the cookie session.
func wantsCookie(r *http.Request) bool { return r.Header.Get(SessionHeader) == "cookie" }

// sameOrigin refuses, with 403, a cookie-session request from another origin.
func sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		problem.Write(w, http.StatusForbidden, "a console session is only served to the console's own origin")
		return false
	}
	return true
}

// setSessionCookie stores refresh in the cookie for ttl; an empty refresh clears it.
func (a *API) setSessionCookie(w http.ResponseWriter, r *http.Request, refresh string, ttl time.Duration) {
	// #nosec G124 -- HttpOnly and SameSite=Strict always; Secure whenever the request came over TLS
	c := &http.Cookie{
		Name: sessionCookie, Value: refresh, Path: cookiePath, MaxAge: int(ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		// Secure whenever the browser reached us over TLS, directly or through a trusted proxy;
		// phoenix dev on plain http://127.0.0.1 could not keep a Secure cookie.
		Secure: r.TLS != nil || (a.o.TrustedProxies > 0 && r.Header.Get("X-Forwarded-Proto") == "https"),
	}
	if refresh == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// cookieRefreshToken is the refresh token of a cookie session, or "" when there is none.
func cookieRefreshToken(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}
