package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoenixotel/phoenix/shared/ratelimit"
)

// env reads variables for Load and collects every problem, so that one start names them all.
type env struct {
	lookup func(string) (string, bool) // os.LookupEnv in production
	errs   []error                     // every problem so far
}

// get is the trimmed value of name, or def when it is unset or blank.
func (e *env) get(name, def string) string {
	if v, ok := e.lookup(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// fail records a problem.
func (e *env) fail(format string, args ...any) { e.errs = append(e.errs, fmt.Errorf(format, args...)) }

// duration reads name (default def) as a duration between lo and hi.
func (e *env) duration(name, def string, lo, hi time.Duration) time.Duration {
	d, err := duration(e.get(name, def), lo, hi)
	if err != nil {
		e.fail("%s: %w", name, err)
	}
	return d
}

// whole reads name (default def) as a whole number between lo and hi.
func (e *env) whole(name, def string, lo, hi int) int {
	v, err := strconv.Atoi(e.get(name, def))
	if err != nil || v < lo || v > hi {
		e.fail("%s: want a whole number from %d to %d", name, lo, hi)
	}
	return v
}

// flag reads name as true or false (default false).
func (e *env) flag(name string) bool {
	v, err := strconv.ParseBool(e.get(name, "false"))
	if err != nil {
		e.fail("%s: want true or false", name)
	}
	return v
}

// rate reads name (default def) as a rate limit such as 30/m, or off.
func (e *env) rate(name, def string) ratelimit.Limit {
	l, err := ratelimit.Parse(e.get(name, def))
	if err != nil {
		e.fail("%s: %w", name, err)
	}
	return l
}

// url reads name (default def) as a URL of one of schemes with a host; what names it in the
// problem. An empty value is left alone when def is empty (the setting is optional).
func (e *env) url(name, def, what string, schemes ...string) string {
	v := e.get(name, def)
	if v == "" && def == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		e.errs = append(e.errs, errors.New(name+": want "+what))
	}
	return v
}
