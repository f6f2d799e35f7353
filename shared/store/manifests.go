package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// ManifestRecord is one stored manifest of a variant.
type ManifestRecord struct {
	Variant experiment.Variant `json:"variant"`
	Kind    string             `json:"kind"`
	Name    string             `json:"name"`
	Content string             `json:"content"`
	SHA256  string             `json:"sha256"` // hex
}

// SaveManifests replaces what is stored for the experiment's variant with ms.
func (tx *Tx) SaveManifests(ctx context.Context, id uuid.UUID, variant experiment.Variant, ms []ManifestRecord, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM manifests WHERE tenant_id = $1 AND experiment_id = $2 AND variant = $3`, tx.tenant, id, variant); err != nil {
		return fmt.Errorf("replace manifests of %s: %w", id, err)
	}
	for i, m := range ms {
		if _, err := tx.Exec(ctx, `INSERT INTO manifests (tenant_id, experiment_id, variant, kind, name, content, content_sha256)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, tx.tenant, id, variant, m.Kind, m.Name, m.Content, hashes[i]); err != nil {
			return fmt.Errorf("store manifest %s/%s of %s: %w", m.Kind, m.Name, id, err)
		}
	}
	return nil
}

// Manifests lists an experiment's stored manifests, baseline first, in a stable order.
func (tx *Tx) Manifests(ctx context.Context, id uuid.UUID) ([]ManifestRecord, error) {
	return collect(ctx, tx.Tx, fmt.Sprintf("list manifests of %s", id), func(r pgx.Row) (ManifestRecord, error) {
		var m ManifestRecord
		err := r.Scan(&m.Variant, &m.Kind, &m.Name, &m.Content, &m.SHA256)
		return m, err
	}, `SELECT variant, kind, name, content, encode(content_sha256, 'hex') FROM manifests
		WHERE tenant_id = $1 AND experiment_id = $2 ORDER BY variant, created_at, kind`, tx.tenant, id)
}
