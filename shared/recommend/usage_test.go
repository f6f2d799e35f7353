package recommend

import (
	"fmt"
	"testing"
)

func TestMetricNames_AreWhatAnExpressionSelects(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`process_cpu_time_seconds_total`, "[process_cpu_time_seconds_total]"},
		{`sum by (process_executable_name) (rate(process_cpu_time_seconds_total{state="user"}[5m]))`, "[process_cpu_time_seconds_total]"},
		{`sum(rate(a_total[1m])) by (job) / on(instance) group_left(team) b_info > 1e3`, "[a_total b_info]"},
		{`{__name__="process_threads", job=~"host.*"} offset 5m`, "[process_threads]"},
		{`histogram_quantile(0.99, sum(rate(http_bucket{le!="+Inf"}[$__rate_interval])) by (le))`, "[http_bucket]"},
		{`label_replace(up{job="$job"}, "dst", "$1", "src", "(.*)") and ignoring(x) down unless bool z`, "[up down z]"},
		{`topk(${k}, process_memory_usage_bytes{process_executable_name=~"[[proc]]"})`, "[process_memory_usage_bytes]"},
		{`max_over_time(x:y:rate5m[1h:5m]) @ 1609746000`, "[x:y:rate5m]"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if got := fmt.Sprint(MetricNames(tt.expr)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestUsage_FromRulesAndDashboardsMatchesOTelNames(t *testing.T) {
	rules, err := FromRules([]byte(`
groups:
  - name: host
    rules:
      - alert: HostBusy
        expr: sum(rate(process_cpu_time_seconds_total[5m])) > 4
      - record: job:mem:sum
        expr: sum by (job) (process_memory_usage_bytes)
`))
	if err != nil {
		t.Fatal(err)
	}
	dash, err := FromDashboard([]byte(`{"panels": [{"type": "row", "panels": [{"targets": [{"expr": "process_threads"}]}]}],
		"templating": {"list": [{"query": "label_values(process_disk_io_bytes_total, process_executable_name)"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	u := Merge(rules, dash)
	for m, want := range map[string]bool{"process.cpu.time": true, "process.memory.usage": true, "process.threads": true,
		"process.disk.io": true, "process.memory.utilization": false, "process.cpu": false} {
		if u.Uses(m) != want {
			t.Errorf("uses %s: %v, want %v (%v)", m, !want, want, u.Metrics)
		}
	}
	if _, err := FromRules([]byte("groups: [")); err == nil {
		t.Error("a broken rule file was read")
	}
	if _, err := FromDashboard([]byte("{")); err == nil {
		t.Error("a broken dashboard was read")
	}
}
