package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/phoenixotel/phoenix/shared/experiment"
)

// WorkloadStatus is a variant's collector workload as last reported.
type WorkloadStatus struct {
	Variant experiment.Variant // baseline or candidate
	Kind    string             // DaemonSet or Deployment
	Name    string             // the workload's name
	Ready   bool               // rolled out and every pod ready
	Message string             // why not ready
	// ResourceVersion orders updates of one workload; 0 when unknown (always applied).
	ResourceVersion int64
}

// SetWorkload records a variant's workload status and returns whether both variants are ready.
func (tx *Tx) SetWorkload(ctx context.Context, id uuid.UUID, w WorkloadStatus) (bool, error) {
	// An update older than the one applied (a late delivery) changes nothing.
	_, err := tx.Exec(ctx, `INSERT INTO experiment_workloads (tenant_id, experiment_id, variant, kind, name, ready, message, resource_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, experiment_id, variant) DO UPDATE
		SET kind = EXCLUDED.kind, name = EXCLUDED.name, ready = EXCLUDED.ready, message = EXCLUDED.message,
		    resource_version = EXCLUDED.resource_version, observed_at = now()
		WHERE experiment_workloads.resource_version <= EXCLUDED.resource_version`,
		tx.tenant, id, w.Variant, w.Kind, w.Name, w.Ready, w.Message, w.ResourceVersion)
	if err != nil {
		return false, fmt.Errorf("record workload of %s: %w", id, err)
	}
	var ready int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM experiment_workloads
		WHERE tenant_id = $1 AND experiment_id = $2 AND ready`, tx.tenant, id).Scan(&ready); err != nil {
		return false, fmt.Errorf("read workloads of %s: %w", id, err)
	}
	return ready == 2, nil
}
