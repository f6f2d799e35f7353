package smoke

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/phoenixotel/phoenix/shared/apiclient"
	"github.com/phoenixotel/phoenix/shared/experiment"
)

func TestChannelSeq_RequiresEveryEventOnceInOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int64
		seqs  []int64
		want  string // substring of the error; empty: accepted
	}{
		{"gap-free from zero", 0, []int64{1, 2, 3}, ""},
		{"gap-free after a subscribe at 41", 41, []int64{42, 43}, ""},
		{"a new channel's numbering starts anywhere", 0, []int64{1796602795961223, 1796602795961224}, ""},
		{"one missing", 0, []int64{1, 3}, "event 2 is missing"},
		{"several missing", 5, []int64{6, 10}, "events 7–9 are missing"},
		{"repeated", 0, []int64{1, 2, 2}, "seq 2 arrived after 2"},
		{"backwards", 0, []int64{1, 2, 1}, "seq 1 arrived after 2"},
		{"first one missing", 3, []int64{5}, "event 4 is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := channelSeq{name: "experiment:x", last: tc.start}
			var err error
			for _, s := range tc.seqs {
				if err = c.next(s); err != nil {
					break
				}
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTransitionLog_AppliesAChainOnceAndRefusesGaps(t *testing.T) {
	tr := func(seq int64, from, to experiment.State) transitionView {
		return transitionView{Seq: seq, From: from, To: to}
	}
	gen, dep, run := tr(1, "pending", "generating"), tr(2, "generating", "deploying"), tr(3, "deploying", "running")
	for _, tc := range []struct {
		name  string
		in    []transitionView
		want  string           // substring of the error; empty: accepted
		state experiment.State // where the log ends when accepted
		fresh int              // how many were new
	}{
		{"a chain", []transitionView{gen, dep, run}, "", "running", 3},
		{"identical repeats apply once", []transitionView{gen, gen, dep, gen}, "", "deploying", 2},
		{"a gap", []transitionView{gen, run}, "transition 2 is missing", "", 0},
		{"a first transition that does not leave pending", []transitionView{tr(1, "generating", "deploying")}, "want one leaving pending", "", 0},
		{"a broken chain", []transitionView{gen, tr(2, "deploying", "running")}, "does not leave generating", "", 0},
		{"a repeat that differs", []transitionView{gen, tr(1, "pending", "cancelled")}, "arrived twice and differently", "", 0},
		{"no seq", []transitionView{tr(0, "pending", "generating")}, "no valid seq", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				l     transitionLog
				err   error
				fresh int
			)
			for _, x := range tc.in {
				var isNew bool
				if isNew, err = l.add(x); err != nil {
					break
				}
				if isNew {
					fresh++
				}
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || l.state() != tc.state || fresh != tc.fresh {
				t.Fatalf("error %v, state %s, %d new; want nil, %s, %d", err, l.state(), fresh, tc.state, tc.fresh)
			}
		})
	}
}

func TestHidden_OnlyA404KeepsAnotherTenantsResourceSecret(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{http.StatusNotFound, ""},
		{http.StatusOK, "tenant isolation is broken"},
		{http.StatusAccepted, "tenant isolation is broken"},
		{http.StatusConflict, "existence and state leak"},
		{http.StatusForbidden, "permission check answered before the tenant check"},
		{http.StatusInternalServerError, "want 404"},
	} {
		err := hidden(apiclient.Reply{Method: "GET", Path: "/v1/experiments/x", Status: tc.status})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%d: error %v, want %q", tc.status, err, tc.want)
		}
	}
}

func TestSocketURL_AcceptsBaseAndWebSocketURLs(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://127.0.0.1:8081", "ws://127.0.0.1:8081/ws", ""},
		{"https://gw.example.com/", "wss://gw.example.com/ws", ""},
		{"ws://127.0.0.1:8081/ws", "ws://127.0.0.1:8081/ws", ""},
		{"wss://gw.example.com/custom/ws", "wss://gw.example.com/custom/ws", ""},
		{"", "", "required"},
		{"127.0.0.1:8081", "", "absolute URL"},
		{"ftp://gw.example.com", "", "must start with"},
	} {
		got, err := socketURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestReply_NamesTheRequestAndTheProblem(t *testing.T) {
	r := apiclient.Reply{Method: "GET", Path: "/v1/experiments/x", Status: 409, Header: http.Header{"Content-Type": {"application/problem+json"}},
		Body: []byte(`{"title":"Conflict","detail":"cannot start an experiment that is running"}`)}
	if got := r.Want(202).Error(); got != "GET /v1/experiments/x answered 409 (cannot start an experiment that is running), want 202" {
		t.Fatalf("message %q", got)
	}
	if r.Want(409, 202) != nil || !r.IsProblem() {
		t.Fatal("409 is among the wanted codes and the answer is a problem")
	}
}

func TestWhole_NamesWhatAStoredAnalysisLacks(t *testing.T) {
	good := func() analysisView {
		var an analysisView
		_ = json.Unmarshal([]byte(`{"verdict":"promote","report":{"verdict":"promote","reason":"series improved","trace":[{}],
			"metrics":[{"metric":"series","outcome":"improved","reason":"fewer","trace":[{}]}]}}`), &an)
		return an
	}
	for _, tc := range []struct {
		name   string
		break_ func(*analysisView)
		want   string
	}{
		{"whole", func(*analysisView) {}, ""},
		{"unknown verdict", func(a *analysisView) { a.Verdict, a.Report.Verdict = "continue", "continue" }, "is not promote, reject, inconclusive or invalid"},
		{"report disagrees", func(a *analysisView) { a.Report.Verdict = "reject" }, `report's verdict "reject" differs`},
		{"no metrics", func(a *analysisView) { a.Report.Metrics = nil }, "no metrics"},
		{"a metric without a trace", func(a *analysisView) { a.Report.Metrics[0].Trace = nil }, `metric "series"`},
		{"a metric with an unknown outcome", func(a *analysisView) { a.Report.Metrics[0].Outcome = "better" }, `outcome "better"`},
		{"no decision trace", func(a *analysisView) { a.Report.Trace = nil }, "no reason or no trace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			an := good()
			tc.break_(&an)
			err := whole(an)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSamplesServed_RefusesAnAnalysisOfMorePairsThanServed(t *testing.T) {
	metrics := []metricView{{Metric: "series", Pairs: 9}}
	served := map[string]map[string]int{"baseline": {"series": 9}, "candidate": {"series": 10}}
	if _, err := samplesServed(metrics, served); err != nil {
		t.Fatalf("9 pairs of 9 and 10 windows: %v", err)
	}
	served["candidate"]["series"] = 8
	if _, err := samplesServed(metrics, served); err == nil || !strings.Contains(err.Error(), "series: the analysis compared 9 paired windows, the API serves 8 complete candidate windows") {
		t.Fatalf("9 pairs of 8 windows: %v", err)
	}
	if _, err := samplesServed([]metricView{{Metric: "series"}}, served); err == nil || !strings.Contains(err.Error(), "no windows") {
		t.Fatalf("no windows: %v", err)
	}
}

func TestSelectAndCheck_NameWhatIsMissing(t *testing.T) {
	all, err := Select(nil)
	if err != nil || len(all) != 5 || all[3].Name != "lifecycle" || all[4].Name != "analysis" {
		t.Fatalf("all: %v %v", all, err)
	}
	some, err := Select([]string{"analysis", " auth"})
	if err != nil || len(some) != 2 || some[0].Name != "auth" || some[1].Name != "analysis" {
		t.Fatalf("focus keeps run order: %v %v", some, err)
	}
	if _, err := Select([]string{"auht"}); err == nil || !strings.Contains(err.Error(), `unknown scenario "auht": choose from auth, tenancy`) {
		t.Fatalf("unknown: %v", err)
	}
	primary := Account{Tenant: "a", Email: "a@x", Password: "p"}
	target := Target{API: "http://api", Gateway: "http://gw"}
	if err := Check(target, Credentials{Primary: primary}, some); err != nil {
		t.Fatalf("auth and analysis need one account: %v", err)
	}
	err = Check(Target{Gateway: "gw"}, Credentials{Primary: Account{Tenant: "a"}}, all)
	for _, want := range []string{"API's URL is required", "not an absolute URL", "primary account needs", "tenancy scenario needs a second account"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
