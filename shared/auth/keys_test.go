package auth_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/auth"
)

func TestThumbprint_MatchesRFC8037Vector(t *testing.T) {
	// RFC 8037 appendix A.1 and A.3.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	const want = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if got := auth.Thumbprint(ed25519.PublicKey(x)); got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestLoadKeySet(t *testing.T) {
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	named := k3
	named.ID = "2026-03.primary"

	tests := []struct {
		name       string
		pem        string
		wantActive string // "" for a verify-only set
		wantIDs    []string
	}{
		{
			name:       "several private keys: the first is active",
			pem:        pemOf(t, k1, k2),
			wantActive: k1.ID,
			wantIDs:    []string{k1.ID, k2.ID},
		},
		{
			name:    "public keys only: verify-only",
			pem:     pemOf(t, k1.VerifyOnly(), k2.VerifyOnly()),
			wantIDs: []string{k1.ID, k2.ID},
		},
		{
			name:       "public before private: the first private key is active",
			pem:        pemOf(t, k1.VerifyOnly(), k2),
			wantActive: k2.ID,
			wantIDs:    []string{k1.ID, k2.ID},
		},
		{
			name:       "kid from the PEM header",
			pem:        pemOf(t, named, k1.VerifyOnly()),
			wantActive: "2026-03.primary",
			wantIDs:    []string{"2026-03.primary", k1.ID},
		},
		{
			name:       "explanatory text around blocks",
			pem:        "# signing key, rotated 2026-03\n" + pemOf(t, k1) + "\ntrailing note\n",
			wantActive: k1.ID,
			wantIDs:    []string{k1.ID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := auth.LoadKeySet(strings.NewReader(tt.pem))
			if err != nil {
				t.Fatalf("LoadKeySet: %v", err)
			}
			active, ok := s.Active()
			if got := map[bool]string{true: active.ID}[ok]; got != tt.wantActive {
				t.Errorf("active kid = %q, want %q", got, tt.wantActive)
			}
			var ids []string
			for _, k := range s.Keys() {
				ids = append(ids, k.ID)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("kids = %v, want %v", ids, tt.wantIDs)
			}
			for _, id := range tt.wantIDs {
				if k, ok := s.Lookup(id); !ok || k.PrivateKey != nil {
					t.Errorf("Lookup(%s) = %+v, %t; want a verify-only key", id, k, ok)
				}
			}
		})
	}
}

func TestLoadKeySet_Rejects(t *testing.T) {
	k := mustKey(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good := pemOf(t, k)
	damaged := strings.Replace(good, "\n", "\n!!", 2)
	badKID := string(pem.EncodeToMemory(&pem.Block{
		Type: "PUBLIC KEY", Headers: map[string]string{"kid": "../../etc/passwd"}, Bytes: mustPKIX(t, k.PublicKey),
	}))

	tests := []struct {
		name string
		pem  string
		msg  string
	}{
		{"empty", "", "no PEM keys"},
		{"not PEM", "hello", "no PEM keys"},
		{"ECDSA private key", pemBlock("PRIVATE KEY", ecPriv), "want Ed25519"},
		{"ECDSA public key", pemBlock("PUBLIC KEY", ecPub), "want Ed25519"},
		{"unsupported block type", pemBlock("EC PRIVATE KEY", ecPriv), "not supported"},
		{"garbage DER", pemBlock("PRIVATE KEY", []byte("nonsense")), "PKCS#8"},
		{"damaged block among good ones", damaged + pemOf(t, mustKey(t)), "damaged"},
		{"same key twice", good + pemOf(t, k.VerifyOnly()), "duplicate kid"},
		{"path-like kid header", badKID, "kid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.LoadKeySet(strings.NewReader(tt.pem))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("LoadKeySet error = %v, want one mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestWritePEM_RoundTrips(t *testing.T) {
	active, next, old := mustKey(t), mustKey(t), mustKey(t)
	old.ID = "2025-12"
	want := mustKeySet(t, active, next, old.VerifyOnly())

	var buf bytes.Buffer
	if err := auth.WritePEM(&buf, want.Keys()...); err != nil {
		t.Fatalf("WritePEM: %v", err)
	}
	got, err := auth.LoadKeySet(&buf)
	if err != nil {
		t.Fatalf("LoadKeySet: %v", err)
	}
	if !keysEqual(got.Keys(), want.Keys()) {
		t.Errorf("round trip = %+v, want %+v", got.Keys(), want.Keys())
	}
}

func TestNewKeySet_Rejects(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	tests := []struct {
		name string
		keys []auth.Key
	}{
		{"no keys", nil},
		{"short public key", []auth.Key{{PublicKey: a.PublicKey[:16]}}},
		{"short private key", []auth.Key{{PublicKey: a.PublicKey, PrivateKey: a.PrivateKey[:32]}}},
		{"private key of another public key", []auth.Key{{PublicKey: b.PublicKey, PrivateKey: a.PrivateKey}}},
		{"duplicate kid", []auth.Key{a, {ID: a.ID, PublicKey: b.PublicKey}}},
		{"path-like kid", []auth.Key{{ID: "../../etc/passwd", PublicKey: a.PublicKey}}},
		{"overlong kid", []auth.Key{{ID: strings.Repeat("k", 129), PublicKey: a.PublicKey}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewKeySet(tt.keys...); err == nil {
				t.Error("NewKeySet succeeded, want error")
			}
		})
	}
}

func TestNewKeySet_OwnsItsBytes(t *testing.T) {
	k := mustKey(t)
	orig := slices.Clone(k.PublicKey)
	s := mustKeySet(t, k)
	k.PublicKey[0] ^= 0xff
	got, _ := s.Lookup(k.ID)
	if !bytes.Equal(got.PublicKey, orig) {
		t.Error("editing the caller's key changed the set")
	}
	got.PublicKey[1] ^= 0xff
	again, _ := s.Lookup(k.ID)
	if !bytes.Equal(again.PublicKey, orig) {
		t.Error("editing a looked-up key changed the set")
	}
}

func TestEnsureDevKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "phoenix", "dev")
	path := filepath.Join(dir, "signing.pem")

	created, err := auth.EnsureDevKeyFile(path)
	if err != nil {
		t.Fatalf("EnsureDevKeyFile (create): %v", err)
	}
	first, ok := created.Active()
	if !ok {
		t.Fatal("created key set has no active key")
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, dir: 0o700, filepath.Dir(dir): 0o700} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", p, got, want)
		}
	}

	loaded, err := auth.EnsureDevKeyFile(path)
	if err != nil {
		t.Fatalf("EnsureDevKeyFile (load): %v", err)
	}
	if again, _ := loaded.Active(); again.ID != first.ID {
		t.Errorf("second call signs with %s, want the created key %s", again.ID, first.ID)
	}
}

func TestEnsureDevKeyFile_KeepsUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.EnsureDevKeyFile(path); err == nil {
		t.Fatal("EnsureDevKeyFile succeeded on a corrupt file, want error")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Error("EnsureDevKeyFile overwrote an existing file")
	}
}

func pemOf(t *testing.T, keys ...auth.Key) string {
	t.Helper()
	var buf bytes.Buffer
	if err := auth.WritePEM(&buf, keys...); err != nil {
		t.Fatalf("WritePEM: %v", err)
	}
	return buf.String()
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func mustPKIX(t *testing.T, pub ed25519.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func keysEqual(a, b []auth.Key) bool {
	return slices.EqualFunc(a, b, func(x, y auth.Key) bool {
		return x.ID == y.ID && bytes.Equal(x.PublicKey, y.PublicKey) && bytes.Equal(x.PrivateKey, y.PrivateKey)
	})
}
