package pipeline

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tmpl := range Templates() {
		cfg, err := Render(request(tmpl.Name, Local))
		if err != nil {
			t.Fatal(err)
		}
		if p := Check(cfg); p != nil {
			t.Errorf("%s: a rendered config fails the check: %v", tmpl.Name, p)
		}
	}
	good, _ := Render(request("process-baseline", Local))
	tests := map[string]struct {
		edit func(string) string
		want string
	}{
		"not yaml":          {func(string) string { return "a: [" }, "not YAML"},
		"no memory limiter": {func(s string) string { return strings.Replace(s, "  memory_limiter:", "  memory_limiterx:", 1) }, "no memory_limiter"},
		"limiter not first": {func(s string) string {
			return strings.Replace(s, "[memory_limiter, resource/phoenix, batch]", "[resource/phoenix, memory_limiter, batch]", 1)
		}, "must come first"},
		"no batch":             {func(s string) string { return strings.Replace(s, ", batch]", "]", 1) }, "no batch processor"},
		"no identity":          {func(s string) string { return strings.ReplaceAll(s, "phoenix.experiment.id", "something.else") }, "phoenix.experiment.id"},
		"no host metrics feed": {func(s string) string { return strings.Replace(s, "receivers: [host_metrics]", "receivers: [otlp]", 1) }, "no metrics pipeline"},
	}
	for name, tt := range tests {
		p := Check([]byte(tt.edit(string(good))))
		if !strings.Contains(strings.Join(p, "\n"), tt.want) {
			t.Errorf("%s: problems %v, want one mentioning %q", name, p, tt.want)
		}
	}
}
