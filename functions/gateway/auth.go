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
)

// Subprotocol is the WebSocket subprotocol the gateway speaks. A browser
// that passes its token as "bearer.<token>" must offer it as well, and the
// server selects it.
const Subprotocol = "phoenix.v1"

// bearerSubprotocolPrefix marks the subprotocol entry that carries the token.
const bearerSubprotocolPrefix = "bearer."

// Identity is who a connection belongs to. Tenant scopes every channel the
// connection can subscribe to.
type Identity struct {
	// Tenant is the tenant whose events the connection may receive.
	Tenant uuid.UUID
	// Subject identifies the user or service account, for logs.
	Subject string
	// ExpiresAt is when the credential stops being valid; the connection is closed then
	// (code 4001) so the client reconnects with a fresh token. Zero means no expiry.
	ExpiresAt time.Time
	// Revoked, if set, is asked every Options.RecheckInterval whether the credential has been
	// revoked since the handshake (logout, user disabled, tenant suspended); a yes closes the
	// connection (code 4003). An error means "cannot tell now": the connection stays.
	Revoked func(ctx context.Context) (bool, error)
}

// Close codes the gateway uses when a connection's credential ends. Clients refresh their token
// and reconnect on 4001; on 4003 they must log in again.
const (
	CloseTokenExpired = 4001
	CloseTokenRevoked = 4003
)

// Authenticator verifies the handshake request. The gateway has already
// moved a token sent as a subprotocol into "Authorization: Bearer <token>",
// so an implementation reads that header only, as it would for any API call.
// Any error means 401; the error text is logged, never sent.
type Authenticator interface {
	Authenticate(r *http.Request) (Identity, error)
}

// Handshake failures, mapped to HTTP status codes by Gateway.serveWS.
var (
	errNoToken          = errors.New("no bearer token")
	errTokenInQuery     = errors.New("token in query string")
	errNoSubprotocol    = errors.New("bearer subprotocol without " + Subprotocol)
	errOriginNotAllowed = errors.New("origin not allowed")
	errNoTenant         = errors.New("authenticator returned no tenant")
)

// queryTokenParams are query parameters that look like a credential.
var queryTokenParams = []string{"token", "access_token", "bearer", "jwt"}

// bearerToken finds the token of a handshake: the Authorization header first,
// then a "bearer.<token>" subprotocol, which must come with Subprotocol so
// that the server has something to select. Tokens in the query string are an
// error even when a header is present: they have already leaked into logs.
func bearerToken(r *http.Request) (string, error) {
	q := r.URL.Query()
	for _, p := range queryTokenParams {
		if q.Has(p) {
			return "", errTokenInQuery
		}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", errNoToken
		}
		return token, nil
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

// authenticate extracts the token and asks the Authenticator about it with
// the token in the Authorization header and out of the subprotocol list.
func authenticate(a Authenticator, r *http.Request) (Identity, error) {
	token, err := bearerToken(r)
	if err != nil {
		return Identity{}, err
	}
	ar := r.Clone(r.Context())
	ar.Header.Set("Authorization", "Bearer "+token)
	ar.Header.Del("Sec-WebSocket-Protocol")
	id, err := a.Authenticate(ar)
	if err != nil {
		return Identity{}, err
	}
	if id.Tenant == uuid.Nil {
		return Identity{}, errNoTenant
	}
	return id, nil
}

// originPolicy decides which browser origins may open a connection; it is
// what stops another site from using a victim's browser to connect.
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

// check returns errOriginNotAllowed unless r has no Origin header (not a
// browser, so not forgeable by a third-party page), the origin is listed, or
// nothing is listed and the origin is the request's own host.
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
