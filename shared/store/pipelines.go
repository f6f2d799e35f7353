package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/phoenixotel/phoenix/shared/pipeline"
)

// Pipeline is one version of a tenant's own pipeline. A version never changes: saving the name
// again adds the next one.
type Pipeline struct {
	ID          uuid.UUID       `json:"id"`
	Name        string          `json:"name"`    // a slug: lowercase letters, digits, . _ -
	Version     int             `json:"version"` // 1, 2, … per name
	Description string          `json:"description,omitempty"`
	Definition  pipeline.Custom `json:"definition"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
}

const pipelineColumns = `id, name, version, description, definition, created_by, created_at`

func scanPipeline(row pgx.Row) (Pipeline, error) {
	var p Pipeline
	err := row.Scan(&p.ID, &p.Name, &p.Version, &p.Description, &p.Definition, &p.CreatedBy, &p.CreatedAt)
	return p, err
}

// SavePipeline stores def as the next version of name in the transaction's tenant (version 1 for
// a new name). The caller validates def first. Two saves of one name at the same instant: the
// second gives ErrConflict.
func (tx *Tx) SavePipeline(ctx context.Context, name, description string, def pipeline.Custom, by string) (Pipeline, error) {
	p, err := scanPipeline(tx.QueryRow(ctx, `INSERT INTO pipelines (tenant_id, name, version, template, description, definition, created_by)
		SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6 FROM pipelines WHERE tenant_id = $1 AND name = $2
		RETURNING `+pipelineColumns, tx.tenant, name, pipeline.CustomTemplate, description, def, by))
	if isUniqueViolation(err) {
		return Pipeline{}, fmt.Errorf("pipeline %s was saved by someone else at the same moment: %w", name, ErrConflict)
	}
	if err != nil {
		return Pipeline{}, fmt.Errorf("save pipeline %s: %w", name, err)
	}
	return p, nil
}

// Pipelines lists the newest version of each of the tenant's pipelines, by name; at most 500.
func (tx *Tx) Pipelines(ctx context.Context) ([]Pipeline, error) {
	return collect(ctx, tx.Tx, "list pipelines", scanPipeline, `SELECT DISTINCT ON (name) `+pipelineColumns+`
		FROM pipelines WHERE tenant_id = $1 AND definition IS NOT NULL ORDER BY name, version DESC LIMIT 500`, tx.tenant)
}

// Pipeline finds version of name in the tenant (0: the newest); ErrNotFound if there is none.
func (tx *Tx) Pipeline(ctx context.Context, name string, version int) (Pipeline, error) {
	p, err := scanPipeline(tx.QueryRow(ctx, `SELECT `+pipelineColumns+` FROM pipelines
		WHERE tenant_id = $1 AND name = $2 AND definition IS NOT NULL AND ($3 = 0 OR version = $3)
		ORDER BY version DESC LIMIT 1`, tx.tenant, name, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return Pipeline{}, fmt.Errorf("pipeline %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Pipeline{}, fmt.Errorf("pipeline %s: %w", name, err)
	}
	return p, nil
}
