package wsproto

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestDocsNameEveryPartOfTheProtocol keeps docs/websocket.md and this package together: every
// frame type, error code and close code defined here appears in the contract, in backquotes.
func TestDocsNameEveryPartOfTheProtocol(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "websocket.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	names := []string{Subscribe, Unsubscribe, Ping, Auth, Subscribed, Unsubscribed, Event, Pong, Authenticated, Error,
		CodeBadRequest, CodeUnknownType, CodeInvalidChannel, CodeNotFound, CodeAlreadySubscribed, CodeTooManySubscriptions,
		CodeRateLimited, CodeHistoryUnavailable, CodeUnauthorized, CodeForbidden, CodeUnavailable,
		ChannelTenant, ChannelExperimentPrefix, Subprotocol}
	for _, n := range names {
		if !strings.Contains(doc, "`"+n) && !strings.Contains(doc, `"`+n+`"`) {
			t.Errorf("docs/websocket.md does not name %q", n)
		}
	}
	for _, code := range []int{CloseTokenExpired, CloseTokenRevoked, CloseSlowReader} {
		if !strings.Contains(doc, strconv.Itoa(code)) {
			t.Errorf("docs/websocket.md does not name close code %d", code)
		}
	}
}
