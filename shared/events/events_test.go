package events

import (
	"testing"

	"github.com/google/uuid"
)

func TestNewAndDecode_RoundTrip(t *testing.T) {
	tenant, exp := uuid.New(), uuid.New()
	e, err := New("id-1", ExperimentStarted, SourceAPI, tenant, exp, ExperimentRef{ExperimentID: exp})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("not a valid CloudEvent: %v", err)
	}
	got, err := Tenant(e)
	if err != nil || got != tenant {
		t.Fatalf("Tenant = %v, %v", got, err)
	}
	var ref ExperimentRef
	if err := Decode(e, &ref); err != nil || ref.ExperimentID != exp {
		t.Fatalf("Decode = %+v, %v", ref, err)
	}
	if e.Subject() != exp.String() {
		t.Fatalf("subject %q", e.Subject())
	}
}

func TestNew_RejectsInvalidPayload(t *testing.T) {
	if _, err := New("id", ExperimentStarted, SourceAPI, uuid.New(), uuid.New(), ExperimentRef{}); err == nil {
		t.Fatal("missing experiment id accepted")
	}
	if _, err := New("id", AnalysisCompleted, SourceAnalyzer, uuid.New(), uuid.New(),
		AnalysisResult{ExperimentID: uuid.New(), ResultID: uuid.New(), Verdict: "maybe"}); err == nil {
		t.Fatal("unknown verdict accepted")
	}
}

func TestReply_IsDeterministicPerInputEvent(t *testing.T) {
	tenant, exp := uuid.New(), uuid.New()
	in, _ := New("id-1", ExperimentStarted, SourceAPI, tenant, exp, ExperimentRef{ExperimentID: exp})
	a, _ := Reply(in, "controller", ManifestsRequested, SourceController, tenant, exp, ExperimentRef{ExperimentID: exp})
	b, _ := Reply(in, "controller", ManifestsRequested, SourceController, tenant, exp, ExperimentRef{ExperimentID: exp})
	in.SetID("id-2")
	c, _ := Reply(in, "controller", ManifestsRequested, SourceController, tenant, exp, ExperimentRef{ExperimentID: exp})
	if a.ID() != b.ID() || a.ID() == c.ID() {
		t.Fatalf("reply ids: %s %s %s", a.ID(), b.ID(), c.ID())
	}
}

func TestTenantAndDecode_RejectBadInput(t *testing.T) {
	exp := uuid.New()
	e, _ := New("id", ExperimentStarted, SourceAPI, uuid.New(), exp, ExperimentRef{ExperimentID: exp})
	for _, v := range []any{"not-a-uuid", uuid.Nil.String(), 42} {
		e.SetExtension(TenantExtension, v)
		if _, err := Tenant(e); err == nil {
			t.Errorf("tenant %v accepted", v)
		}
	}
	_ = e.SetData("application/json", map[string]any{"experiment_id": exp, "extra": 1})
	if err := Decode(e, &ExperimentRef{}); err == nil {
		t.Error("unknown payload field accepted")
	}
	_ = e.SetData("application/json", map[string]any{})
	if err := Decode(e, &ExperimentRef{}); err == nil {
		t.Error("empty payload accepted")
	}
}
