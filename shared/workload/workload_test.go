package workload

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func obj(kind, gen, status string, labels map[string]string) []byte {
	var l []string
	for k, v := range labels {
		l = append(l, `"`+k+`":"`+v+`"`)
	}
	return []byte(`{"kind":"` + kind + `","metadata":{"name":"c","generation":` + gen + `,"labels":{` + strings.Join(l, ",") + `}},` +
		`"spec":{"replicas":2},"status":` + status + `}`)
}

func TestParse(t *testing.T) {
	exp, tenant := uuid.New(), uuid.New()
	labels := map[string]string{LabelExperiment: exp.String(), LabelTenant: tenant.String(), LabelVariant: "candidate"}
	tests := []struct {
		name  string
		data  []byte
		ready bool
		err   bool
	}{
		{"deployment ready", obj("Deployment", "3", `{"observedGeneration":3,"updatedReplicas":2,"availableReplicas":2}`, labels), true, false},
		{"deployment rolling", obj("Deployment", "3", `{"observedGeneration":3,"updatedReplicas":1,"availableReplicas":2}`, labels), false, false},
		{"deployment spec not yet observed", obj("Deployment", "4", `{"observedGeneration":3,"updatedReplicas":2,"availableReplicas":2}`, labels), false, false},
		{"daemonset ready", obj("DaemonSet", "1", `{"observedGeneration":1,"desiredNumberScheduled":3,"updatedNumberScheduled":3,"numberReady":3}`, labels), true, false},
		{"daemonset with no nodes scheduled", obj("DaemonSet", "1", `{"observedGeneration":1,"desiredNumberScheduled":0}`, labels), false, false},
		{"daemonset pods not ready", obj("DaemonSet", "1", `{"observedGeneration":1,"desiredNumberScheduled":3,"updatedNumberScheduled":3,"numberReady":2}`, labels), false, false},
		{"statefulset", obj("StatefulSet", "1", `{}`, labels), false, true},
		{"bad variant", obj("Deployment", "1", `{}`, map[string]string{LabelExperiment: exp.String(), LabelTenant: tenant.String(), LabelVariant: "x"}), false, true},
		{"bad tenant", obj("Deployment", "1", `{}`, map[string]string{LabelExperiment: exp.String(), LabelTenant: "x", LabelVariant: "baseline"}), false, true},
		{"not json", []byte("{"), false, true},
	}
	for _, tt := range tests {
		s, err := Parse(tt.data)
		if (err != nil) != tt.err || (err == nil && s.Ready != tt.ready) {
			t.Errorf("%s: %+v, %v; want ready=%v err=%v", tt.name, s, err, tt.ready, tt.err)
			continue
		}
		if err == nil && (s.Experiment != exp || s.Tenant != tenant || (!s.Ready && s.Message == "")) {
			t.Errorf("%s: %+v", tt.name, s)
		}
	}
	if _, err := Parse(obj("Deployment", "1", `{}`, map[string]string{"app": "other"})); !errors.Is(err, ErrNotPhoenix) {
		t.Errorf("unlabelled workload: %v", err)
	}
}
