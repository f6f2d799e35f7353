// Package migrations holds Phoenix's PostgreSQL schema as numbered, reversible goose migrations,
// embedded so that every binary carries the schema it expects. It owns the SQL only; applying it
// is the job of shared/store's migrator.
package migrations

import "embed"

// FS holds every *.sql migration, in goose's format (-- +goose Up / Down).
//
//go:embed *.sql
var FS embed.FS
