package function

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"

	"github.com/phoenixotel/phoenix/shared/logging"
)

// RequestIDHeader carries a request id end to end; one is made when the caller sends none.
const RequestIDHeader = "X-Request-Id"

// requestID accepts a caller's id only if it is short and plain, so logs cannot be injected into.
var requestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestLog gives every request a request id (echoed in the response) and a logger bearing it.
func withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestID.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		r.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		ctx := logging.With(r.Context(), "request_id", id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequestID returns the request id the runtime assigned to r.
func RequestID(r *http.Request) string {
	return r.Header.Get(RequestIDHeader)
}
