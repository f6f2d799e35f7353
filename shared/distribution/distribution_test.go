package distribution

import "testing"

func TestReason_IsTheCollectorsErrorOnOneLine(t *testing.T) {
	tests := []struct{ name, out, want string }{
		{"multi-line", "Error: failed to get config: decoding failed due to the following error(s):\n\n" +
			"'groupbyattrsprocessor.Config' has invalid keys: bogus\n" +
			"2026/12/07 05:35:30 collector server run finished with error: failed to get config: …\n",
			"failed to get config: decoding failed due to the following error(s): 'groupbyattrsprocessor.Config' has invalid keys: bogus"},
		{"one line, the file named", "Error: cannot read /tmp/phoenix-validate-1/config.yaml: bad\n", "cannot read config.yaml: bad"},
		{"no Error line", "something\nwent wrong\n", "went wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason([]byte(tt.out), "/tmp/phoenix-validate-1/config.yaml"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
