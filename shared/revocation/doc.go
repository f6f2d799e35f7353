// Package revocation records revoked access tokens and answers, for every verifier (the API and
// the gateway alike), whether a token is still good. It owns four kinds of marker:
//
//   - a token id (logout), kept until the token would have expired anyway;
//   - a session id (logout, refresh-token reuse), ending every token of that login;
//   - a subject's "valid after" instant (password or role change, user disabled);
//   - a tenant's "valid after" instant (tenant suspended).
//
// PostgreSQL is the record, Redis the cache. Every Revoke* writes PostgreSQL first (migration
// 00013: revocations, per tenant under row-level security; revoked_tokens, global because a jti
// names no tenant), then Redis. A marker lives only as long as a token it could refuse, in both.
//
// A Redis that lost its memory must not bring revoked tokens back, so the cache says whether it is
// complete: a tenant's markers are trusted only while that tenant's sentinel key exists, the
// revoked token ids only while the tokens sentinel does. A check that finds a sentinel missing
// reads the live markers from PostgreSQL, answers from them, and writes them back with the
// sentinel. A rebuild first sets a claim in Redis and writes only if the claim is still there,
// so a flush during the rebuild leaves the cache cold rather than half-filled. Sentinels expire
// after Options.Resync: a marker the cache missed anyway (its Redis write failed after
// PostgreSQL took it, or Redis evicted it) is back within that.
//
// The rebuild is lazy and per tenant, under the tenant's own row-level security (ReadTenant),
// rather than one cross-tenant read through the phoenix_platform role: no new privilege beyond
// the tenant's own rows, a tenant is reloaded only when one of its tokens is checked, and the
// platform role keeps seeing nothing but tenants and scheduling columns.
//
// Costs: with a warm cache a check is one Redis round trip (an MGET of at most six keys) and no
// query. A cold tenant costs two more Redis round trips and one indexed read of its live markers,
// shared by the checks of one process that arrive meanwhile; the tokens sentinel costs one read of
// every live revoked jti (the last hour's logouts).
//
// When it cannot know, it says so: Redis unreachable, or a cold cache with PostgreSQL
// unreachable, is an error, never "not revoked", and the Verifier refuses the token (the API
// answers 503). Metrics counts the answers and the rebuilds.
//
// Without Options.Store the markers live in Redis alone and a Redis restart forgets them; only
// tests and tools without a database construct it that way.
package revocation
