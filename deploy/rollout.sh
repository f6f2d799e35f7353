#!/usr/bin/env bash
# Roll Phoenix out to the current kubectl context: migrations first, then everything else.
#
#   deploy/rollout.sh dev|production|canary
#
# 1. Renders deploy/overlays/<env>/migrate (with `ko resolve`, which builds the images and pins
#    them by digest, when ko is installed; plain `kubectl kustomize` otherwise, for images already
#    pinned), replaces the previous migration Job (a Job's template is immutable) and waits for it:
#    the functions of this release never start against the previous schema.
# 2. Renders and applies the overlay: functions, gateway, Broker, Triggers, Sources, RBAC, and for
#    production the monitoring objects.
# 3. Waits until every Knative Service is Ready and the gateway has rolled out.
# The Secrets phoenix-database, phoenix-redis and phoenix-jwt-keys must exist (README "Deploy").
set -euo pipefail

env=${1:?usage: deploy/rollout.sh dev|production|canary}
here=$(cd "$(dirname "$0")" && pwd)
overlay=$here/overlays/$env
[ -d "$overlay" ] || { echo "no overlay $overlay" >&2; exit 2; }
ns=phoenix
timeout=${PHOENIX_ROLLOUT_TIMEOUT:-600}

render() {
	if command -v ko >/dev/null 2>&1; then ko resolve -k "$1"; else kubectl kustomize "$1"; fi
}

migrate=$overlay/migrate
[ -d "$migrate" ] || migrate=$here/overlays/production/migrate # the canary shares production's schema
echo "== migrations ($migrate)"
kubectl delete job phoenix-migrate -n "$ns" --ignore-not-found --wait=true
render "$migrate" | kubectl apply -f -
deadline=$((SECONDS + timeout))
while :; do
	status=$(kubectl get job phoenix-migrate -n "$ns" -o jsonpath='{.status.succeeded}/{.status.failed}')
	case $status in
	1/*) echo "migrations applied"; break ;;
	*/[1-9]*) if [ "$(kubectl get job phoenix-migrate -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}')" = True ]; then
		kubectl logs -n "$ns" job/phoenix-migrate --tail=50 >&2 || true
		echo "migration Job failed; nothing else was rolled out" >&2
		exit 1
	fi ;;
	esac
	if [ $SECONDS -ge $deadline ]; then echo "migration Job did not finish in ${timeout}s" >&2; exit 1; fi
	sleep 2
done

echo "== $env"
render "$overlay" | kubectl apply -f -
kubectl wait ksvc --all -n "$ns" --for=condition=Ready --timeout="${timeout}s"
kubectl rollout status deployment/phoenix-gateway -n "$ns" --timeout="${timeout}s"
echo "rolled out $env"
