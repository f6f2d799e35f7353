package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/phoenixotel/phoenix/shared/auth"
)

// Subprotocol is the WebSocket subprotocol the gateway speaks. A browser that passes its token as
// "bearer.<token>" must offer it as well, and the server selects it.
const Subprotocol = "phoenix.v1"

// bearerSubprotocolPrefix marks the subprotocol entry that carries the token.
const bearerSubprotocolPrefix = "bearer."

// Identity is who a connection belongs to. Tenant scopes every channel the connection can
// subscribe to.
type Identity struct {
	// Tenant is the tenant whose events the connection may receive.
	Tenant uuid.UUID
	// Subject identifies the user or service account; the per-user connection cap counts by it.
	Subject string
	// ExpiresAt is when the credential stops being valid; the connection is closed then (code
	// 4001) unless the client re-authenticates in-band first. Zero means no expiry.
	ExpiresAt time.Time
	// ReadExperiments says whether the credential may read experiments (experiment:read), which
	// every channel carries; without it the handshake is refused with 403.
	ReadExperiments bool
	// Credential identifies the credential (the token id): connections that share one are
	// re-checked for revocation once. Empty means the connection is checked on its own.
	Credential string
	// Revoked, if set, is asked every Options.RecheckInterval whether the credential has been
	// revoked since (logout, user disabled, tenant suspended); a yes closes the connection (code
	// 4003). An error means "cannot tell now": the connection stays until the next check.
	Revoked func(ctx context.Context) (bool, error)
}

// ErrUnavailable, wrapped by an Authenticator's error, means the credential could not be checked
// (a dependency is down): the handshake gets 503 instead of 401.
var ErrUnavailable = errors.New("cannot check credentials now")

// Authenticator verifies an access token, at the handshake and for in-band re-authentication.
// Any error but ErrUnavailable means the token is not accepted; the error text is logged, never
// sent.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Handshake failures, mapped to HTTP status codes by Gateway.serveWS.
var (
	errTokenInQuery     = errors.New("token in query string")
	errNoToken          = errors.New("no bearer token")
	errNoSubprotocol    = errors.New("bearer subprotocol without " + Subprotocol)
	errOriginNotAllowed = errors.New("origin not allowed")
	errNoTenant         = errors.New("authenticator returned no tenant")
)

// queryTokenParams are query parameters that look like a credential.
var queryTokenParams = []string{"token", "access_token", "bearer", "jwt"}

// bearerToken finds the token of a handshake: the Authorization header first (parsed as the API
// parses it), then a "bearer.<token>" subprotocol, which must come with Subprotocol so that the
// server has something to select. Tokens in the query string are an error even when a header is
// present: they have already leaked into logs.
func bearerToken(r *http.Request) (string, error) {
	q := r.URL.Query()
	for _, p := range queryTokenParams {
		if q.Has(p) {
			return "", errTokenInQuery
		}
	}
	if len(r.Header.Values("Authorization")) > 0 {
		return auth.BearerToken(r)
	}
	var token string
	offered := false
	for _, p := range websocket.Subprotocols(r) {
		switch {
		case p == Subprotocol:
			offered = true
		case strings.HasPrefix(p, bearerSubprotocolPrefix) && token == "":
			token = strings.TrimPrefix(p, bearerSubprotocolPrefix)
		}
	}
	if token == "" {
		return "", errNoToken
	}
	if !offered {
		return "", errNoSubprotocol
	}
	return token, nil
}

// authenticate asks a for the identity behind token.
func authenticate(ctx context.Context, a Authenticator, token string) (Identity, error) {
	if len(token) > auth.MaxTokenLength {
		return Identity{}, errNoToken
	}
	id, err := a.Authenticate(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if id.Tenant == uuid.Nil {
		return Identity{}, errNoTenant
	}
	return id, nil
}

// originPolicy decides which browser origins may open a connection; it is what stops another site
// from using a victim's browser to connect.
type originPolicy struct {
	// any is set when AllowedOrigins contains "*".
	any bool
	// allowed holds the lower-cased allowed origins.
	allowed map[string]struct{}
}

// newOriginPolicy builds the policy for Options.AllowedOrigins.
func newOriginPolicy(origins []string) originPolicy {
	p := originPolicy{allowed: make(map[string]struct{}, len(origins))}
	for _, o := range origins {
		if o == "*" {
			p.any = true
		}
		p.allowed[strings.ToLower(strings.TrimRight(o, "/"))] = struct{}{}
	}
	return p
}

// check returns errOriginNotAllowed unless r has no Origin header (not a browser, so not
// forgeable by a third-party page), the origin is listed, or nothing is listed and the origin is
// the request's own host.
func (p originPolicy) check(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || p.any {
		return nil
	}
	if _, ok := p.allowed[strings.ToLower(origin)]; ok {
		return nil
	}
	if len(p.allowed) == 0 {
		u, err := url.Parse(origin)
		if err == nil && strings.EqualFold(u.Host, r.Host) {
			return nil
		}
	}
	return errOriginNotAllowed
}
