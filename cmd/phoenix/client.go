package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
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

// client calls the Phoenix API (shared/apiclient) with a user's tokens, refreshing them when
// they expire.
type client struct {
	api   *apiclient.Client // the API, with token as its bearer
	creds credentials       // current tokens
	save  bool              // persist refreshed tokens (false for in-memory sessions such as phoenix demo)
}

func newClient(c credentials, persist bool) *client {
	cl := &client{creds: c, save: persist}
	cl.api = &apiclient.Client{Base: c.API, HTTP: &http.Client{Timeout: 30 * time.Second}, Token: cl.token}
	return cl
}

// login exchanges a password for tokens.
func login(ctx context.Context, api, tenant, email, password string) (credentials, error) {
	base := strings.TrimSuffix(api, "/")
	tok, err := (&apiclient.Client{Base: base}).LogIn(ctx, apiclient.Login{Tenant: tenant, Email: email, Password: password})
	if err != nil {
		return credentials{}, err
	}
	return credentials{API: base, Tenant: tenant, Email: email, AccessToken: tok.AccessToken,
		RefreshToken: tok.RefreshToken, ExpiresAt: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}, nil
}

// token returns a valid access token, refreshing it first when it is about to expire.
func (c *client) token(ctx context.Context) (string, error) {
	if time.Until(c.creds.ExpiresAt) > 30*time.Second {
		return c.creds.AccessToken, nil
	}
	if c.creds.RefreshToken == "" {
		return "", errors.New("the session expired: run `phoenix login` again")
	}
	tok, err := (&apiclient.Client{Base: c.creds.API, HTTP: c.api.HTTP}).Refresh(ctx, c.creds.RefreshToken)
	if err != nil {
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

// specJSON encodes a spec for apiclient.NewExperiment (it holds only JSON-safe values).
func specJSON(s experiment.Spec) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// call sends one authenticated request and decodes the answer into out (when not nil).
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	return c.api.Call(ctx, method, path, body, out)
}
