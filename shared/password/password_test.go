package password

import (
	"errors"
	"strings"
	"testing"
)

// fast keeps tests quick; the format and verification logic are the same at any cost.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify_RoundTrip(t *testing.T) {
	h, err := Hash("correct horse battery staple", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected PHC prefix: %s", h)
	}
	if err := Verify("correct horse battery staple", h); err != nil {
		t.Fatalf("verify own hash: %v", err)
	}
	if err := Verify("correct horse battery stapl", h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: got %v, want ErrMismatch", err)
	}
}

func TestHash_SaltsDiffer(t *testing.T) {
	a, _ := Hash("same password here", fast)
	b, _ := Hash("same password here", fast)
	if a == b {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerify_RejectsMalformedHashes(t *testing.T) {
	good, _ := Hash("a long enough password", fast)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":           "",
		"bcrypt":          "$2a$10$abcdefghijklmnopqrstuv",
		"wrong version":   strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":     strings.Replace(good, "m=64", "m=99999999", 1),
		"zero time":       strings.Replace(good, "t=1", "t=0", 1),
		"bad salt base64": strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short key":       strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
	} {
		t.Run(name, func(t *testing.T) {
			err := Verify("a long enough password", h)
			if err == nil || errors.Is(err, ErrMismatch) {
				t.Fatalf("got %v, want a format error", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{strings.Repeat("x", MinLength), true},
		{strings.Repeat("x", MaxLength), true},
		{strings.Repeat("x", MaxLength+1), false},
	}
	for _, tt := range tests {
		if err := Validate(tt.pw); (err == nil) != tt.ok {
			t.Errorf("Validate(len %d) = %v, want ok=%v", len(tt.pw), err, tt.ok)
		}
	}
}

func BenchmarkHashDefault(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple", Default()); err != nil {
			b.Fatal(err)
		}
	}
}
