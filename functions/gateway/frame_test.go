package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestAppendTextFrame_LengthEncodings(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		header []byte
	}{
		{"empty", 0, []byte{0x81, 0}},
		{"7-bit maximum", 125, []byte{0x81, 125}},
		{"16-bit minimum", 126, []byte{0x81, 126, 0, 126}},
		{"16-bit maximum", 65535, []byte{0x81, 126, 0xFF, 0xFF}},
		{"64-bit minimum", 65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte{'x'}, tt.n)
			got := appendTextFrame([]byte("before"), payload)
			want := append(append([]byte("before"), tt.header...), payload...)
			if !bytes.Equal(got, want) {
				t.Fatalf("frame header % x, want % x", got[6:min(len(got), 6+maxHeader)], tt.header)
			}
		})
	}
}

// TestSender_FramesReadByAWebSocketClient checks the hand-encoded frames against a real client
// over a real upgraded connection: every length encoding, several frames in one write, in order.
func TestSender_FramesReadByAWebSocketClient(t *testing.T) {
	payloads := []string{`{"a":1}`, strings.Repeat("y", 300), strings.Repeat("z", 70000), `{}`}
	frames := make([]queued, len(payloads))
	for i, p := range payloads {
		frames[i] = queued{data: []byte(p)}
	}
	sent := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			sent <- err
			return
		}
		out := sender{conn: conn.NetConn(), timeout: time.Second, pool: &sync.Pool{}}
		err = out.send(frames)
		if err == nil && out.deadline.IsZero() {
			err = errors.New("send set no write deadline")
		}
		sent <- err
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for i, want := range payloads {
		typ, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if typ != websocket.TextMessage || string(got) != want {
			t.Fatalf("frame %d: type %d, %d bytes, want text of %d", i, typ, len(got), len(want))
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
}
