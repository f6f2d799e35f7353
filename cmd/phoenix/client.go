package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentials are what `phoenix login` keeps in the user's config directory (mode 0600).
type credentials struct {
	API          string    `json:"api"`           // base URL of the API
	Gateway      string    `json:"gateway"`       // base URL of the WebSocket gateway
	Tenant       string    `json:"tenant"`        // tenant name logged in to
	Email        string    `json:"email"`         // who logged in
	AccessToken  string    `json:"access_token"`  // short-lived bearer token
	RefreshToken string    `json:"refresh_token"` // rotated on every refresh
	ExpiresAt    time.Time `json:"expires_at"`    // of the access token
}

// credentialsPath is $XDG_CONFIG_HOME/phoenix/credentials.json (or the OS's equivalent).
func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "phoenix", "credentials.json"), nil
}

func loadCredentials() (credentials, error) {
	var c credentials
	path, err := credentialsPath()
	if err != nil {
		return c, err
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the user's own credentials file
	if errors.Is(err, os.ErrNotExist) {
		return c, errors.New("not logged in: run `phoenix login` first")
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s is damaged (%v): run `phoenix login` again", path, err)
	}
	return c, nil
}

func (c credentials) save() error {
	path, err := credentialsPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(c, "", "  ") // #nosec G117 -- the session file itself, written 0600 in the user's config directory
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// client calls the Phoenix API with a user's tokens, refreshing them when they expire.
type client struct {
	http  *http.Client // bounded by a timeout: a CLI must not hang
	creds credentials  // current tokens
	save  bool         // persist refreshed tokens (false for in-memory sessions such as phoenix demo)
}

// apiError is a problem+json answer of the API.
type apiError struct {
	Status int    // HTTP status
	Title  string // the problem's title
	Detail string // what to fix
	Fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} // per-field problems
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("the API answered %d", e.Status)
	if e.Title != "" {
		msg += " " + e.Title
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	for _, f := range e.Fields {
		msg += fmt.Sprintf("\n  %s: %s", f.Field, f.Message)
	}
	return msg
}

func newClient(c credentials, persist bool) *client {
	return &client{http: &http.Client{Timeout: 30 * time.Second}, creds: c, save: persist}
}

// login exchanges a password for tokens.
func login(ctx context.Context, api, tenant, email, password string) (credentials, error) {
	c := newClient(credentials{API: strings.TrimSuffix(api, "/")}, false)
	var tok tokenAnswer
	err := c.do(ctx, http.MethodPost, "/v1/auth/login", map[string]string{"tenant": tenant, "email": email, "password": password}, &tok, false)
	if err != nil {
		return credentials{}, err
	}
	return credentials{API: c.creds.API, Tenant: tenant, Email: email, AccessToken: tok.AccessToken,
		RefreshToken: tok.RefreshToken, ExpiresAt: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}, nil
}

// tokenAnswer is the API's token response.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`  // bearer token
	ExpiresIn    int    `json:"expires_in"`    // seconds
	RefreshToken string `json:"refresh_token"` // rotated
}

// token returns a valid access token, refreshing it first when it is about to expire.
func (c *client) token(ctx context.Context) (string, error) {
	if time.Until(c.creds.ExpiresAt) > 30*time.Second {
		return c.creds.AccessToken, nil
	}
	if c.creds.RefreshToken == "" {
		return "", errors.New("the session expired: run `phoenix login` again")
	}
	var tok tokenAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/auth/refresh", map[string]string{"refresh_token": c.creds.RefreshToken}, &tok, false); err != nil {
		return "", fmt.Errorf("refresh the session (run `phoenix login` again): %w", err)
	}
	c.creds.AccessToken, c.creds.RefreshToken = tok.AccessToken, tok.RefreshToken
	c.creds.ExpiresAt = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	if c.save {
		if err := c.creds.save(); err != nil {
			return "", fmt.Errorf("keep the refreshed session: %w", err)
		}
	}
	return c.creds.AccessToken, nil
}

// call is do with authentication.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out, true)
}

func (c *client) do(ctx context.Context, method, path string, body, out any, authenticated bool) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.creds.API+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authenticated {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the API at %s: %w", c.creds.API, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read the API's answer: %w", err)
	}
	if res.StatusCode >= 300 {
		e := &apiError{Status: res.StatusCode}
		var p struct {
			Title  string          `json:"title"`
			Detail string          `json:"detail"`
			Errors json.RawMessage `json:"errors"`
		}
		if json.Unmarshal(raw, &p) == nil {
			e.Title, e.Detail = p.Title, p.Detail
			_ = json.Unmarshal(p.Errors, &e.Fields)
		}
		return e
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode the API's answer to %s %s: %w", method, path, err)
	}
	return nil
}
