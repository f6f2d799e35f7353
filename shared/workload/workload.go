// Package workload reads the Kubernetes objects that run a variant's collector (a DaemonSet or a
// Deployment, as ApiServerSource sends them) and says which experiment and variant they belong to
// and whether they are ready. It owns the labels that tie a workload to an experiment; the
// generator writes them, the controller reads them. Pure: no I/O.
package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// Labels every collector workload carries.
const (
	LabelExperiment = "phoenix.dev/experiment" // the experiment id
	LabelVariant    = "phoenix.dev/variant"    // baseline or candidate
	LabelTenant     = "phoenix.dev/tenant"     // the tenant id (a hint: the controller checks it)
)

// Status is what the controller needs of one workload.
type Status struct {
	Kind       string    // DaemonSet or Deployment
	Name       string    // metadata.name
	Tenant     uuid.UUID // from LabelTenant
	Experiment uuid.UUID // from LabelExperiment
	Variant    string    // from LabelVariant
	Ready      bool      // the rollout is complete and every pod is ready
	Message    string    // why it is not ready, for operators
	// ResourceVersion is metadata.resourceVersion when it is a number (etcd's revision, as every
	// Kubernetes API server gives it), else 0: it orders updates that arrive out of order.
	ResourceVersion int64
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name            string            `json:"name"`
		Generation      int64             `json:"generation"`
		ResourceVersion string            `json:"resourceVersion"`
		Labels          map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int32 `json:"replicas"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration int64 `json:"observedGeneration"`
		// Deployment
		Replicas          int32 `json:"replicas"`
		UpdatedReplicas   int32 `json:"updatedReplicas"`
		AvailableReplicas int32 `json:"availableReplicas"`
		// DaemonSet
		DesiredNumberScheduled int32 `json:"desiredNumberScheduled"`
		UpdatedNumberScheduled int32 `json:"updatedNumberScheduled"`
		NumberReady            int32 `json:"numberReady"`
	} `json:"status"`
}

// ErrNotPhoenix means the object carries no Phoenix experiment labels.
var ErrNotPhoenix = errors.New("not a Phoenix collector workload")

// Parse reads a DaemonSet or Deployment in JSON.
func Parse(data []byte) (Status, error) {
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		return Status{}, fmt.Errorf("decode workload: %w", err)
	}
	l := o.Metadata.Labels
	if l[LabelExperiment] == "" {
		return Status{}, ErrNotPhoenix
	}
	s := Status{Kind: o.Kind, Name: o.Metadata.Name, Variant: l[LabelVariant]}
	if rv, err := strconv.ParseInt(o.Metadata.ResourceVersion, 10, 64); err == nil && rv > 0 {
		s.ResourceVersion = rv
	}
	var err error
	if s.Experiment, err = uuid.Parse(l[LabelExperiment]); err != nil {
		return Status{}, fmt.Errorf("label %s: %w", LabelExperiment, err)
	}
	if s.Tenant, err = uuid.Parse(l[LabelTenant]); err != nil {
		return Status{}, fmt.Errorf("label %s: %w", LabelTenant, err)
	}
	if s.Variant != "baseline" && s.Variant != "candidate" {
		return Status{}, fmt.Errorf("label %s is %q, not baseline or candidate", LabelVariant, s.Variant)
	}
	if o.Kind != "Deployment" && o.Kind != "DaemonSet" {
		return Status{}, fmt.Errorf("kind %q is not a DaemonSet or Deployment", o.Kind)
	}
	st := o.Status
	if st.ObservedGeneration < o.Metadata.Generation {
		s.Message = "the controller has not observed the latest spec yet"
		return s, nil
	}
	switch o.Kind {
	case "Deployment":
		want := int32(1)
		if o.Spec.Replicas != nil {
			want = *o.Spec.Replicas
		}
		s.Ready = want > 0 && st.UpdatedReplicas == want && st.AvailableReplicas == want
		if !s.Ready {
			s.Message = fmt.Sprintf("%d of %d replicas updated and available", min(st.UpdatedReplicas, st.AvailableReplicas), want)
		}
	case "DaemonSet":
		d := st.DesiredNumberScheduled
		s.Ready = d > 0 && st.UpdatedNumberScheduled == d && st.NumberReady == d
		if !s.Ready {
			s.Message = fmt.Sprintf("%d of %d pods updated and ready", min(st.UpdatedNumberScheduled, st.NumberReady), d)
		}
	}
	return s, nil
}
