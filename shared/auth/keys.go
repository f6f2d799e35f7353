package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	// pemKeyIDHeader is the PEM header that names a key whose kid is not its
	// thumbprint. Keys without it get their thumbprint, so a plain
	// `openssl genpkey -algorithm ed25519` file works as is.
	pemKeyIDHeader = "kid"

	// maxKeyIDLength bounds a configured kid; thumbprints are 43 characters.
	maxKeyIDLength = 128

	// maxKeyFileSize bounds what LoadKeySet reads: a key set is a handful of
	// 100-byte blocks, so anything near this size is a misconfiguration.
	maxKeyFileSize = 1 << 20
)

// Key is one Ed25519 key of a KeySet. A key with a PrivateKey can sign; one
// without it can only verify.
type Key struct {
	// ID is the kid that selects this key when a token is verified; empty
	// means the key's RFC 7638 thumbprint.
	ID string
	// PublicKey verifies signatures made with this key.
	PublicKey ed25519.PublicKey
	// PrivateKey signs tokens; nil for a verify-only key.
	PrivateKey ed25519.PrivateKey
}

// GenerateKey returns a fresh Ed25519 key named by its thumbprint. It is meant
// for development and tests; production keys come from a secret store as PEM.
func GenerateKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return Key{ID: Thumbprint(pub), PublicKey: pub, PrivateKey: priv}, nil
}

// VerifyOnly returns the key without its private half: what a service that
// only verifies should hold, and what may be published.
func (k Key) VerifyOnly() Key {
	return Key{ID: k.ID, PublicKey: k.PublicKey}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key:
// base64url (unpadded) SHA-256 of the key's required JWK members in
// lexicographic order with no whitespace, which for an OKP key (RFC 8037
// §2) is {"crv":"Ed25519","kty":"OKP","x":"…"}. It names the key stably
// wherever it is loaded, so issuers and verifiers agree on kids without
// sharing configuration.
func Thumbprint(pub ed25519.PublicKey) string {
	members := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(members))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeySet is an immutable, ordered set of keys named by kid. The first key
// that has a private half is the active signing key; every other key only
// verifies. A set with no private key at all can verify but not sign, which
// is what the gateway and event functions hold.
//
// Rotation replaces the set rather than mutating it: build a new KeySet (or
// reload the file) and a new Issuer or Verifier from it. That keeps a
// Verifier safe for concurrent use without locks.
type KeySet struct {
	// keys holds the keys in the order given, each owning its own bytes.
	keys []Key
	// byID indexes keys by kid for verification.
	byID map[string]int
	// active is the index of the signing key, or -1 for a verify-only set.
	active int
}

// NewKeySet builds a KeySet from keys in order. An empty ID is replaced by
// the key's thumbprint. It rejects an empty set, malformed keys, a private
// key that does not match its public key, invalid kids, and duplicate kids.
func NewKeySet(keys ...Key) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("new key set: no keys")
	}
	s := &KeySet{
		keys:   make([]Key, 0, len(keys)),
		byID:   make(map[string]int, len(keys)),
		active: -1,
	}
	for i, k := range keys {
		k, err := normaliseKey(k)
		if err != nil {
			return nil, fmt.Errorf("new key set: key %d: %w", i+1, err)
		}
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("new key set: key %d: duplicate kid %q", i+1, k.ID)
		}
		if s.active < 0 && k.PrivateKey != nil {
			s.active = len(s.keys)
		}
		s.byID[k.ID] = len(s.keys)
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// normaliseKey checks one key and returns a copy that shares no bytes with
// the caller, so later edits to the caller's slices cannot change the set.
func normaliseKey(k Key) (Key, error) {
	if len(k.PublicKey) != ed25519.PublicKeySize {
		return Key{}, fmt.Errorf("public key is %d bytes, want %d", len(k.PublicKey), ed25519.PublicKeySize)
	}
	out := Key{ID: k.ID, PublicKey: bytes.Clone(k.PublicKey)}
	if k.PrivateKey != nil {
		if len(k.PrivateKey) != ed25519.PrivateKeySize {
			return Key{}, fmt.Errorf("private key is %d bytes, want %d", len(k.PrivateKey), ed25519.PrivateKeySize)
		}
		// Derive the public half from the seed rather than trusting the copy
		// inside the private key, so a spliced key cannot sign under one kid
		// and verify under another.
		derived := ed25519.NewKeyFromSeed(k.PrivateKey.Seed())
		if !bytes.Equal(derived.Public().(ed25519.PublicKey), k.PublicKey) {
			return Key{}, errors.New("private key does not match public key")
		}
		out.PrivateKey = derived
	}
	if out.ID == "" {
		out.ID = Thumbprint(out.PublicKey)
	}
	if err := checkKeyID(out.ID); err != nil {
		return Key{}, err
	}
	return out, nil
}

// checkKeyID keeps configured kids to a URL-safe alphabet so a kid is never
// mistaken for a path, URL or header fragment by anything that logs or
// serves it.
func checkKeyID(kid string) error {
	if len(kid) > maxKeyIDLength {
		return fmt.Errorf("kid is %d characters, want at most %d", len(kid), maxKeyIDLength)
	}
	for _, c := range []byte(kid) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("kid %s: only letters, digits, '-', '_' and '.' are allowed", quoteBounded(kid))
		}
	}
	return nil
}

// Active returns the signing key, or false if the set can only verify.
func (s *KeySet) Active() (Key, bool) {
	if s == nil || s.active < 0 {
		return Key{}, false
	}
	return cloneKey(s.keys[s.active]), true
}

// Lookup returns the key named kid. A verify-only copy is returned because a
// lookup serves verification, which never needs the private half.
func (s *KeySet) Lookup(kid string) (Key, bool) {
	if s == nil {
		return Key{}, false
	}
	i, ok := s.byID[kid]
	if !ok {
		return Key{}, false
	}
	return cloneKey(s.keys[i].VerifyOnly()), true
}

// Keys returns copies of every key in set order, private halves included, for
// writing the set back out with WritePEM.
func (s *KeySet) Keys() []Key {
	if s == nil {
		return nil
	}
	out := make([]Key, len(s.keys))
	for i, k := range s.keys {
		out[i] = cloneKey(k)
	}
	return out
}

func cloneKey(k Key) Key {
	return Key{ID: k.ID, PublicKey: bytes.Clone(k.PublicKey), PrivateKey: bytes.Clone(k.PrivateKey)}
}

// LoadKeySet reads a KeySet from PEM: any mix of PKCS#8 Ed25519 private keys
// ("PRIVATE KEY") and PKIX Ed25519 public keys ("PUBLIC KEY"), in order, so
// the first private key is the active one. A block's "kid" PEM header names
// the key; without it the key is named by its thumbprint. Text outside PEM
// blocks is ignored, as OpenSSL does, but a damaged block is an error rather
// than silently skipped, because a skipped key fails only when a token needs
// it.
func LoadKeySet(r io.Reader) (*KeySet, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load key set: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("load key set: input exceeds %d bytes", maxKeyFileSize)
	}
	var keys []Key
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		k, err := keyFromPEM(block)
		if err != nil {
			return nil, fmt.Errorf("load key set: PEM block %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	// pem.Decode skips a block it cannot parse and carries on, so count the
	// BEGIN lines to notice one went missing.
	if begins := bytes.Count(data, []byte("-----BEGIN ")); begins != len(keys) {
		return nil, fmt.Errorf("load key set: %d PEM blocks begin but %d decode; a block is damaged", begins, len(keys))
	}
	if len(keys) == 0 {
		return nil, errors.New("load key set: no PEM keys found")
	}
	s, err := NewKeySet(keys...)
	if err != nil {
		return nil, fmt.Errorf("load key set: %w", err)
	}
	return s, nil
}

func keyFromPEM(block *pem.Block) (Key, error) {
	var k Key
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return Key{}, fmt.Errorf("parse PKCS#8 private key: %w", err)
		}
		priv, ok := parsed.(ed25519.PrivateKey)
		if !ok {
			return Key{}, fmt.Errorf("private key is %T, want Ed25519", parsed)
		}
		k = Key{PublicKey: priv.Public().(ed25519.PublicKey), PrivateKey: priv}
	case "PUBLIC KEY":
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return Key{}, fmt.Errorf("parse PKIX public key: %w", err)
		}
		pub, ok := parsed.(ed25519.PublicKey)
		if !ok {
			return Key{}, fmt.Errorf("public key is %T, want Ed25519", parsed)
		}
		k = Key{PublicKey: pub}
	default:
		return Key{}, fmt.Errorf("PEM type %q is not supported, want %q or %q", block.Type, "PRIVATE KEY", "PUBLIC KEY")
	}
	k.ID = block.Headers[pemKeyIDHeader]
	return k, nil
}

// LoadKeySetFile reads a KeySet from the PEM file at path; see LoadKeySet.
func LoadKeySetFile(path string) (*KeySet, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator's key file (PHOENIX_JWT_KEYS_FILE)
	if err != nil {
		return nil, fmt.Errorf("load key set file: %w", err)
	}
	defer f.Close()
	s, err := LoadKeySet(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// WritePEM writes keys in order as PEM that LoadKeySet reads back into the
// same set: a key with a private half as a PKCS#8 "PRIVATE KEY", one without
// as a PKIX "PUBLIC KEY". A kid is written as a PEM header only when it is
// not the thumbprint, so plain files stay readable by OpenSSL.
func WritePEM(w io.Writer, keys ...Key) error {
	for i, k := range keys {
		var block pem.Block
		var err error
		if k.PrivateKey != nil {
			block.Type = "PRIVATE KEY"
			block.Bytes, err = x509.MarshalPKCS8PrivateKey(k.PrivateKey)
		} else {
			block.Type = "PUBLIC KEY"
			block.Bytes, err = x509.MarshalPKIXPublicKey(k.PublicKey)
		}
		if err != nil {
			return fmt.Errorf("write PEM key %d: %w", i+1, err)
		}
		if k.ID != "" && k.ID != Thumbprint(k.PublicKey) {
			block.Headers = map[string]string{pemKeyIDHeader: k.ID}
		}
		if err := pem.Encode(w, &block); err != nil {
			return fmt.Errorf("write PEM key %d: %w", i+1, err)
		}
	}
	return nil
}

// EnsureDevKeyFile loads the key set at path, first creating it with one
// fresh key if it does not exist: the file is 0600 and missing parent
// directories 0700, because it holds a private key. It is for development
// only; production must fail when its mounted key is missing rather than
// mint one nobody else trusts.
func EnsureDevKeyFile(path string) (*KeySet, error) {
	if _, err := os.Stat(path); err == nil {
		return LoadKeySetFile(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ensure dev key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ensure dev key file: %w", err)
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("ensure dev key file: %w", err)
	}
	// O_EXCL: if another process created the file since the Stat, keep its
	// key instead of overwriting one that may already have signed tokens.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator's key file
	if errors.Is(err, fs.ErrExist) {
		return LoadKeySetFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("ensure dev key file: %w", err)
	}
	if err := writeKeyFile(f, key); err != nil {
		// A half-written key file would fail every later start; remove it
		// so the next start generates again.
		_ = os.Remove(path)
		return nil, fmt.Errorf("ensure dev key file %s: %w", path, err)
	}
	return NewKeySet(key)
}

func writeKeyFile(f *os.File, key Key) error {
	if err := WritePEM(f, key); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
