package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// BearerToken returns the token of the request's "Authorization: Bearer …"
// header (RFC 6750 §2.1). The scheme matches case-insensitively, as RFC 9110
// §11.1 requires. A missing, repeated, oversized or malformed header is an
// error wrapping ErrUnauthenticated.
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", unauthenticated(errors.New("authorization header is missing"))
	case 1:
	default:
		// Two headers means two proxies or a smuggling attempt; picking one
		// would let them disagree about who the caller is.
		return "", unauthenticated(fmt.Errorf("%d authorization headers", len(values)))
	}
	header := values[0]
	// Generous slack for the scheme and spaces; the exact bound is below.
	if len(header) > MaxTokenLength+64 {
		return "", unauthenticated(fmt.Errorf("authorization header is %d bytes, over the limit", len(header)))
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", unauthenticated(fmt.Errorf("authorization scheme %s is not Bearer", quoteBounded(scheme)))
	}
	token = strings.Trim(token, " ")
	if token == "" {
		return "", unauthenticated(errors.New("bearer token is empty"))
	}
	if len(token) > MaxTokenLength {
		return "", unauthenticated(fmt.Errorf("bearer token is %d bytes, over the %d limit", len(token), MaxTokenLength))
	}
	if !isB64Token(token) {
		return "", unauthenticated(errors.New("bearer token has characters outside RFC 6750 b64token"))
	}
	return token, nil
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
