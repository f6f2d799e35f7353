package store

import "github.com/jackc/pgx/v5/pgxpool"

// PoolStats is the connection pool's state at this moment: open, idle and lent-out connections,
// acquisitions and the time they waited. The runtime's pool metrics read it on every scrape; it
// costs a lock on the pool, no query.
func (s *Store) PoolStats() *pgxpool.Stat { return s.pool.Stat() }
