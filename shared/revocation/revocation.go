package revocation

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/phoenixotel/phoenix/shared/auth"
	"github.com/phoenixotel/phoenix/shared/store"
)

// Store is the revocation list: PostgreSQL's record behind a Redis cache. It implements
// auth.Revocation.
type Store struct {
	rdb     *redis.Client                                     // the cache every check reads
	db      *store.Store                                      // the record; nil keeps markers in Redis alone
	prefix  string                                            // key prefix, so several deployments or tests can share one Redis
	keep    time.Duration                                     // how long "valid after" and session markers live: the longest token life plus leeway
	resync  time.Duration                                     // how long a rebuilt cache is trusted before it is read again from PostgreSQL
	now     func() time.Time                                  // clock for expiries
	notify  func(ctx context.Context, tenant uuid.UUID) error // tells live connections to re-check now; may be nil
	metrics *Metrics                                          // checks and rebuilds
	flight  singleflight.Group                                // one rebuild per tenant (and one of the tokens) at a time in this process
	raise   *redis.Script                                     // raises a "valid after" marker, never lowers it
	fill    *redis.Script                                     // writes a rebuild back, if its claim still stands
}

// Options configure a Store; the zero value suits production once Store is set.
type Options struct {
	// Store is PostgreSQL, the record markers are written to first and rebuilt from. Nil keeps
	// them in Redis alone (tests and tools without a database); a Redis restart then forgets them.
	Store  *store.Store
	Prefix string        // key prefix; default "phoenix"
	Keep   time.Duration // marker lifetime; default auth.MaxTTL + auth.MaxLeeway
	// Resync is how long a cache rebuilt from PostgreSQL is trusted before the next check rebuilds
	// it; it bounds how long a marker the cache missed can go unseen. Default one minute.
	Resync time.Duration
	// Notify, if set, is called after a session, subject or tenant revocation is stored, so that
	// long-lived connections of that tenant (the WebSocket gateway) re-check at once instead of
	// at their next periodic check. It is a hint: its failure does not fail the revocation.
	Notify func(ctx context.Context, tenant uuid.UUID) error
	// Metrics receives the counts; nil creates the Store's own (read it back with Metrics).
	Metrics *Metrics
	Now     func() time.Time // clock; nil means time.Now. Tests pin it.
}

// New returns a Store over rdb.
func New(rdb *redis.Client, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "phoenix"
	}
	if o.Keep <= 0 {
		o.Keep = auth.MaxTTL + auth.MaxLeeway
	}
	if o.Resync <= 0 {
		o.Resync = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	return &Store{rdb: rdb, db: o.Store, prefix: o.Prefix, keep: o.Keep, resync: o.Resync, now: o.Now,
		notify: o.Notify, metrics: o.Metrics, raise: redis.NewScript(raiseScript), fill: redis.NewScript(fillScript)}
}

// Metrics are the Store's instruments, for a registry; nil for a nil Store.
func (s *Store) Metrics() *Metrics {
	if s == nil {
		return nil
	}
	return s.metrics
}

// tokensScope names the revoked token ids' sentinel and claim; it cannot be a tenant's UUID.
const tokensScope = "tokens"

func (s *Store) tokenKey(jti string) string { return s.prefix + ":revoked:token:" + jti }
func (s *Store) sessionKey(tenant uuid.UUID, sid string) string {
	return s.prefix + ":revoked:session:" + tenant.String() + ":" + sid
}
func (s *Store) subjectKey(tenant uuid.UUID, subject string) string {
	return s.prefix + ":valid-after:subject:" + tenant.String() + ":" + subject
}
func (s *Store) tenantKey(tenant uuid.UUID) string {
	return s.prefix + ":valid-after:tenant:" + tenant.String()
}

// warmKey is the sentinel of scope (a tenant id or tokensScope): while it exists, Redis holds
// every live marker of that scope.
func (s *Store) warmKey(scope string) string { return s.prefix + ":revocation:warm:" + scope }

// claimKey marks a rebuild of scope in progress; see fillScript.
func (s *Store) claimKey(scope string) string { return s.prefix + ":revocation:rebuild:" + scope }

// The positions of the keys a check reads.
const (
	atToken = iota
	atSubject
	atTenant
	atSession
	atTenantWarm
	atTokensWarm
)

// Revoked reports whether p's token was revoked. With a warm cache it costs one Redis round trip
// (one MGET of the markers that could apply and the two sentinels) and no query; a cold cache is
// rebuilt from PostgreSQL first (rebuild.go). An error means the answer is unknown.
func (s *Store) Revoked(ctx context.Context, p auth.Principal, issuedAt time.Time) (revoked bool, err error) {
	defer func() { s.metrics.checked(revoked, err) }()
	keys := []string{s.tokenKey(p.TokenID), s.subjectKey(p.Tenant, p.Subject), s.tenantKey(p.Tenant),
		s.sessionKey(p.Tenant, p.SessionID), s.warmKey(p.Tenant.String()), s.warmKey(tokensScope)}
	if s.db == nil {
		keys = keys[:atTenantWarm]
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return false, fmt.Errorf("read revocation markers: %w", err)
	}
	m, err := cached(vals, p.SessionID != "")
	if err != nil {
		return false, err
	}
	if m.refuses(issuedAt) {
		// Every cached marker was written to PostgreSQL first: a hit needs no confirmation.
		return true, nil
	}
	if s.db == nil {
		return false, nil
	}
	// A miss is an answer only where the cache is complete; elsewhere PostgreSQL decides.
	coldTenant, coldTokens := vals[atTenantWarm] == nil, vals[atTokensWarm] == nil
	if coldTenant {
		rs, err := s.tenantMarkers(ctx, p.Tenant)
		if err != nil {
			return false, err
		}
		m.addTenant(rs, p)
	}
	if coldTokens {
		ts, err := s.tokenMarkers(ctx)
		if err != nil {
			return false, err
		}
		m.addTokens(ts, p.TokenID)
	}
	return m.refuses(issuedAt), nil
}

// markers are what could refuse one token, from the cache or from PostgreSQL.
type markers struct {
	token        bool  // its id is revoked
	session      bool  // its session is revoked
	subjectAfter int64 // its subject's "valid after", Unix milliseconds; math.MinInt64 for none
	tenantAfter  int64 // its tenant's "valid after", likewise
}

// refuses reports whether the markers refuse a token issued at issuedAt. "Valid after" compares
// in milliseconds, the precision of the token's iat_ms claim.
func (m markers) refuses(issuedAt time.Time) bool {
	ms := issuedAt.UnixMilli()
	return m.token || m.session || ms < m.subjectAfter || ms < m.tenantAfter
}

// cached reads the markers out of a check's MGET.
func cached(vals []any, hasSession bool) (markers, error) {
	m := markers{token: vals[atToken] != nil, session: hasSession && vals[atSession] != nil,
		subjectAfter: math.MinInt64, tenantAfter: math.MinInt64}
	for _, f := range [...]struct {
		at int
		to *int64
	}{{atSubject, &m.subjectAfter}, {atTenant, &m.tenantAfter}} {
		if vals[f.at] == nil {
			continue
		}
		ms, err := parseMillis(vals[f.at])
		if err != nil {
			return markers{}, err
		}
		*f.to = ms
	}
	return m, nil
}

// addTenant adds what the tenant's durable markers say about p.
func (m *markers) addTenant(rs []store.Revocation, p auth.Principal) {
	for _, r := range rs {
		switch {
		case r.Kind == store.RevokedSession && p.SessionID != "" && r.Target == p.SessionID:
			m.session = true
		case r.Kind == store.SubjectValidAfter && r.Target == p.Subject:
			m.subjectAfter = max(m.subjectAfter, r.ValidAfter.UnixMilli())
		case r.Kind == store.TenantValidAfter:
			m.tenantAfter = max(m.tenantAfter, r.ValidAfter.UnixMilli())
		}
	}
}

// addTokens adds whether the durable token markers name jti.
func (m *markers) addTokens(ts []store.RevokedToken, jti string) {
	for _, t := range ts {
		if t.ID == jti {
			m.token = true
		}
	}
}

func parseMillis(v any) (int64, error) {
	str, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("revocation marker has type %T", v)
	}
	ms, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("revocation marker %q is not a time", str)
	}
	return ms, nil
}
