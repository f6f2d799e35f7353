package experiment

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest experiment name, in characters; the experiments table's CHECK
// constraint (length(name) BETWEEN 1 AND 100) says the same.
const MaxNameLength = 100

// Why a name is refused. ValidateName wraps the character problems with where the character is.
var (
	ErrNameLength = fmt.Errorf("required, at most %d characters", MaxNameLength)
	// ErrNameNotUTF8 stands for text that was not UTF-8 when sent: JSON decoding turns such bytes
	// (and lone surrogate escapes) into U+FFFD, so a stored name would silently differ from the
	// one the client holds.
	ErrNameNotUTF8 = errors.New("U+FFFD, the replacement character for bytes that are not valid UTF-8, is not allowed: send the name as UTF-8")
	// ErrNameBidiControl stands for invisible bidirectional formatting, which can make a name
	// display as a different one (the "Trojan Source" trick) in the console, the CLI and logs.
	ErrNameBidiControl = errors.New("invisible bidirectional control characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are not allowed: remove it")
)

// ValidateName returns why name cannot name an experiment, or nil. Letters of any script are
// welcome ("Zürich-prod"); refused are a blank or overlong name, U+FFFD and the bidirectional
// controls (Unicode's Bidi_Control property).
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxNameLength {
		return ErrNameLength
	}
	pos := 0
	for _, r := range name {
		pos++
		switch {
		case r == utf8.RuneError: // U+FFFD itself, or an invalid byte of a name not decoded from JSON
			return fmt.Errorf("character %d: %w", pos, ErrNameNotUTF8)
		case unicode.Is(unicode.Bidi_Control, r):
			return fmt.Errorf("character %d is U+%04X: %w", pos, r, ErrNameBidiControl)
		}
	}
	return nil
}
