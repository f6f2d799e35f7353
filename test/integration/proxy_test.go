package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The proxies below stand in front of the real API and gateway and make them misbehave in one
// chosen way, so that a test can prove a scenario notices exactly that misbehaviour. Everything
// else passes through unchanged.

// answer is one API answer a tamperAPI rewrite may change.
type answer struct {
	Status int    // the HTTP status
	Body   []byte // the body
}

// tamperAPI proxies the API at upstream, passing each answer through rewrite, which returns the
// answer to send instead (or the same one).
func tamperAPI(t *testing.T, upstream string, rewrite func(r *http.Request, a answer) answer) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(res *http.Response) error {
		raw, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			return err
		}
		a := rewrite(res.Request, answer{Status: res.StatusCode, Body: raw})
		res.StatusCode, res.Status = a.Status, strconv.Itoa(a.Status)+" "+http.StatusText(a.Status)
		if a.Status < 300 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
			res.Header.Set("Content-Type", "application/json")
		}
		res.Body = io.NopCloser(bytes.NewReader(a.Body))
		res.ContentLength = int64(len(a.Body))
		res.Header.Set("Content-Length", strconv.Itoa(len(a.Body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// frameEdit decides what becomes of one server frame: the frame to send instead, or nil to drop it.
type frameEdit func(frame map[string]any) map[string]any

// tamperGateway proxies WebSockets to the gateway at upstream with the client's credentials and
// subprotocols, and passes every frame from the gateway through edit. A refused handshake is
// refused with the gateway's status.
func tamperGateway(t *testing.T, upstream string, edit frameEdit) string {
	t.Helper()
	wsUpstream := strings.Replace(upstream, "http://", "ws://", 1)
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := http.Header{}
		if a := r.Header.Get("Authorization"); a != "" {
			h.Set("Authorization", a)
		}
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: websocket.Subprotocols(r)}
		up, res, err := d.Dial(wsUpstream+r.URL.Path, h)
		if err != nil {
			status := http.StatusBadGateway
			if res != nil {
				status = res.StatusCode
			}
			http.Error(w, "upstream refused: "+err.Error(), status)
			return
		}
		upg := websocket.Upgrader{Subprotocols: []string{up.Subprotocol()}}
		if up.Subprotocol() == "" {
			upg.Subprotocols = nil
		}
		down, err := upg.Upgrade(w, r, nil)
		if err != nil {
			_ = up.Close()
			return
		}
		wg.Add(1)
		defer wg.Done()
		done := make(chan struct{})
		go func() { // client → gateway, unchanged
			defer close(done)
			for {
				kind, msg, err := down.ReadMessage()
				if err != nil {
					_ = up.Close()
					return
				}
				if up.WriteMessage(kind, msg) != nil {
					return
				}
			}
		}()
		for { // gateway → client, edited
			_, msg, err := up.ReadMessage()
			if err != nil {
				break
			}
			var f map[string]any
			if json.Unmarshal(msg, &f) != nil {
				continue
			}
			if f = edit(f); f == nil {
				continue
			}
			if down.WriteJSON(f) != nil {
				break
			}
		}
		_ = down.Close()
		<-done
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return srv.URL
}
