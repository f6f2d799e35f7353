package auth

import (
	"errors"
	"fmt"
)

// ErrUnauthenticated is wrapped by every rejection of a caller's credentials:
// a missing or malformed Authorization header, or a token that fails any
// verification step. Callers map it to 401 with errors.Is and log the whole
// error, whose wrapped reason says which check failed. The reason is never
// meant for the response body: telling an attacker which check failed helps
// them.
var ErrUnauthenticated = errors.New("unauthenticated")

// unauthenticated wraps reason in ErrUnauthenticated so both stay reachable
// through errors.Is (for example jwt.ErrTokenExpired for metrics).
func unauthenticated(reason error) error {
	return fmt.Errorf("%w: %w", ErrUnauthenticated, reason)
}

// quoteBounded renders attacker-controlled text for an error message, cut
// short so a hostile header cannot flood the logs.
func quoteBounded(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		return fmt.Sprintf("%q…", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}
