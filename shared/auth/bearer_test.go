package auth_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/auth"
)

func TestBearerToken(t *testing.T) {
	const tok = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln"
	tests := []struct {
		name    string
		headers []string
		want    string
		wantErr bool
	}{
		{name: "bearer", headers: []string{"Bearer " + tok}, want: tok},
		{name: "scheme in lower case", headers: []string{"bearer " + tok}, want: tok},
		{name: "scheme in mixed case", headers: []string{"BeArEr " + tok}, want: tok},
		{name: "several spaces", headers: []string{"Bearer   " + tok}, want: tok},
		{name: "b64token padding", headers: []string{"Bearer abc+/~=="}, want: "abc+/~=="},
		{name: "missing", wantErr: true},
		{name: "empty", headers: []string{""}, wantErr: true},
		{name: "scheme only", headers: []string{"Bearer"}, wantErr: true},
		{name: "scheme and spaces", headers: []string{"Bearer    "}, wantErr: true},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: true},
		{name: "scheme prefix only", headers: []string{"Bearerx " + tok}, wantErr: true},
		{name: "token with a space", headers: []string{"Bearer " + tok + " extra"}, wantErr: true},
		{name: "token with a comma", headers: []string{"Bearer a,b"}, wantErr: true},
		{name: "only padding", headers: []string{"Bearer =="}, wantErr: true},
		{name: "two headers", headers: []string{"Bearer " + tok, "Bearer " + tok}, wantErr: true},
		{name: "token over the limit", headers: []string{"Bearer " + strings.Repeat("a", auth.MaxTokenLength+1)}, wantErr: true},
		{name: "header far over the limit", headers: []string{"Bearer " + strings.Repeat(" ", 10000) + tok}, wantErr: true},
		{name: "token at the limit", headers: []string{"Bearer " + strings.Repeat("a", auth.MaxTokenLength)}, want: strings.Repeat("a", auth.MaxTokenLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := auth.BearerToken(r)
			if tt.wantErr {
				if !errors.Is(err, auth.ErrUnauthenticated) {
					t.Errorf("BearerToken error = %v, want ErrUnauthenticated", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("BearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
