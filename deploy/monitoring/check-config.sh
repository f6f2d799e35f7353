#!/usr/bin/env bash
# promtool check config for prometheus/prometheus.yml (and, through rule_files, the rules).
#
#   deploy/monitoring/check-config.sh [promtool]
#
# Debian's promtool (apt-get install prometheus) is built without Kubernetes service discovery
# and refuses `kubernetes_sd_configs` as an unknown field. With such a promtool the file is
# checked once more with every kubernetes_sd_configs block replaced by a static target, so the
# rest — global settings, every job's relabelling, rule_files and the rules they load — is still
# checked by promtool, and this script says what it could not check. test/monitoring checks the
# service-discovery blocks themselves (roles and namespaces). An upstream promtool checks all.
set -euo pipefail
promtool=${1:-promtool}
cd "$(dirname "$0")/prometheus"

if out=$("$promtool" check config prometheus.yml 2>&1); then
	echo "$out"
	exit 0
fi
if ! grep -q 'field kubernetes_sd_configs not found' <<<"$out"; then
	echo "$out" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r rules "$tmp/"
# A kubernetes_sd_configs block is the key line and every following line indented deeper.
awk '
	/^[[:space:]]*kubernetes_sd_configs:/ {
		match($0, /^[[:space:]]*/); indent = RLENGTH
		printf "%*sstatic_configs: [{targets: [\"kubernetes-sd.invalid:80\"]}]\n", indent, ""
		skipping = 1; next
	}
	skipping {
		match($0, /^[[:space:]]*/)
		if (RLENGTH > indent || $0 ~ /^[[:space:]]*- / && RLENGTH == indent) next
		skipping = 0
	}
	{ print }
' prometheus.yml >"$tmp/prometheus.yml"
echo "note: $promtool has no Kubernetes service discovery (Debian build); checking prometheus.yml with static targets in its place"
"$promtool" check config "$tmp/prometheus.yml"
