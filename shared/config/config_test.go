package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func vars(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad_DefaultsWorkOnThisMachine(t *testing.T) {
	c, err := Load(vars(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.DatabaseURL != DefaultDatabaseURL || c.MigrateDatabaseURL != DefaultMigrateDatabaseURL ||
		c.RedisURL != DefaultRedisURL || c.JWTLeeway != 30*time.Second || c.LogLevel != slog.LevelInfo ||
		c.AccessTokenTTL != 10*time.Minute || c.RateLoginAccount.Rate != 10 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestLoad_ReportsEveryProblemByName(t *testing.T) {
	_, err := Load(vars(map[string]string{
		"PORT":                         "80808",
		"PHOENIX_DATABASE_URL":         "postgres://phoenix_app:s3cret@",
		"PHOENIX_MIGRATE_DATABASE_URL": "postgres://postgres@127.0.0.1:5432",
		"PHOENIX_REDIS_URL":            "http://x",
		"PHOENIX_LOG_LEVEL":            "loud",
		"PHOENIX_JWT_LEEWAY":           "1h",
		"PHOENIX_DRAIN_TIMEOUT":        "soon",
		"PHOENIX_ALLOWED_ORIGINS":      "https://ok.example, not-an-origin",
		"PHOENIX_ACCESS_TOKEN_TTL":     "24h",
		"PHOENIX_RATE_LOGIN_IP":        "lots",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, want := range []string{"PORT=", "PHOENIX_DATABASE_URL", "names no database", "PHOENIX_REDIS_URL",
		"PHOENIX_LOG_LEVEL", "PHOENIX_JWT_LEEWAY", "PHOENIX_DRAIN_TIMEOUT", `"not-an-origin"`,
		"PHOENIX_ACCESS_TOKEN_TTL", "PHOENIX_RATE_LOGIN_IP"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error leaks the password:\n%s", msg)
	}
}

func TestLoad_Overrides(t *testing.T) {
	c, err := Load(vars(map[string]string{"PORT": "9090", "PHOENIX_ALLOWED_ORIGINS": "https://a.example,*", "PHOENIX_LOG_LEVEL": "DEBUG"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != ":9090" || len(c.AllowedOrigins) != 2 || c.LogLevel != slog.LevelDebug {
		t.Fatalf("%+v", c)
	}
}

func TestLoad_FeatureFlagsAndInternalRoutes(t *testing.T) {
	cases := []struct {
		env          map[string]string
		autoPromote  bool
		internal     bool
		wantErrorFor string
	}{
		{nil, false, false, ""},
		{map[string]string{"PHOENIX_FEATURE_AUTO_PROMOTE": "true", "PHOENIX_API_INTERNAL_ROUTES": "true"}, true, true, ""},
		{map[string]string{"PHOENIX_FEATURE_AUTO_PROMOTE": "sometimes"}, false, false, "PHOENIX_FEATURE_AUTO_PROMOTE"},
		{map[string]string{"PHOENIX_API_INTERNAL_ROUTES": "yes please"}, false, false, "PHOENIX_API_INTERNAL_ROUTES"},
	}
	for _, c := range cases {
		cfg, err := Load(vars(c.env))
		if c.wantErrorFor != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrorFor) {
				t.Errorf("%v: error %v, want one naming %s", c.env, err, c.wantErrorFor)
			}
			continue
		}
		if err != nil || cfg.Features.AutoPromote != c.autoPromote || cfg.InternalRoutes != c.internal {
			t.Errorf("%v: %+v %v %v", c.env, cfg.Features, cfg.InternalRoutes, err)
		}
	}
}

// TestLoad_SilenceAllowsForTheLatenessBound: a variant's newest stored window is up to two
// windows and the lateness bound old, so the silence default grows with the bound and a silence
// shorter than that — which would fail healthy runs — is refused.
func TestLoad_SilenceAllowsForTheLatenessBound(t *testing.T) {
	tests := []struct {
		env     map[string]string
		silence time.Duration // 0 when refused
	}{
		{map[string]string{}, time.Minute + 15*time.Second}, // 4 × 15 s + 15 s
		{map[string]string{"PHOENIX_KPI_WINDOW": "6s", "PHOENIX_KPI_LATENESS": "60s"}, 84 * time.Second},
		{map[string]string{"PHOENIX_KPI_WINDOW": "6s"}, time.Minute},
		{map[string]string{"PHOENIX_KPI_WINDOW": "6s", "PHOENIX_TIMEOUT_SILENCE": "18s"}, 18 * time.Second},
		{map[string]string{"PHOENIX_KPI_WINDOW": "6s", "PHOENIX_TIMEOUT_SILENCE": "17s"}, 0},
	}
	for _, tt := range tests {
		c, err := Load(vars(tt.env))
		switch {
		case tt.silence == 0 && (err == nil || !strings.Contains(err.Error(), "PHOENIX_TIMEOUT_SILENCE")):
			t.Errorf("%v: error %v, want one naming PHOENIX_TIMEOUT_SILENCE", tt.env, err)
		case tt.silence != 0 && (err != nil || c.Timeouts.Silence != tt.silence):
			t.Errorf("%v: silence %v (%v), want %s", tt.env, c.Timeouts.Silence, err, tt.silence)
		}
	}
}
