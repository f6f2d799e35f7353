package experiment

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in string
		want     error // nil: accepted
	}{
		{"ascii", "topk-filter", nil},
		{"letters of other scripts", "Zürich-prod", nil},
		{"cjk and spaces", "東京 canary 2", nil},
		{"exactly the longest, counted in characters", strings.Repeat("ü", MaxNameLength), nil},
		{"empty", "", ErrNameLength},
		{"blank", " \t", ErrNameLength},
		{"one character too long", strings.Repeat("ü", MaxNameLength+1), ErrNameLength},
		{"replacement character from a JSON body", "Z\uFFFDrich", ErrNameNotUTF8},
		{"raw invalid byte", "Z\xfcrich", ErrNameNotUTF8},
		{"right-to-left override", "invoice\u202Efdp.exe", ErrNameBidiControl},
		{"left-to-right embedding", "a\u202Ab", ErrNameBidiControl},
		{"first strong isolate", "a\u2068b", ErrNameBidiControl},
		{"pop directional isolate", "a\u2069", ErrNameBidiControl},
		{"left-to-right mark", "\u200Eprod", ErrNameBidiControl},
		{"right-to-left mark", "prod\u200F", ErrNameBidiControl},
		{"arabic letter mark", "a\u061Cb", ErrNameBidiControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateName(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("ValidateName(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// The message says which character to remove, counted as a person counts, not in bytes.
func TestValidateName_SaysWhichCharacter(t *testing.T) {
	err := ValidateName("Zürich\u202Eprod")
	if err == nil || !strings.Contains(err.Error(), "character 7 is U+202E") {
		t.Fatalf("got %v", err)
	}
}
