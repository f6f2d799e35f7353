// Package smoke owns Phoenix's black-box scenarios: checks that a running Phoenix — a fresh
// rollout, or `phoenix dev` in the integration suites — authenticates, keeps tenants apart,
// streams over WebSockets, runs experiments and serves their analyses, judged only by what its
// HTTP API and WebSocket gateway answer. It never touches a database, Redis or a signing key:
// what it can see is what a client can see, so it runs unchanged against any deployment.
//
// Each scenario is a function of a context, a Target (API and gateway URLs), Credentials and
// Options, returning a Result of named steps, each passed, failed (with exactly what differed)
// or skipped (with why). A step that fails ends its scenario, except for cleanup: every object a
// scenario creates is named smoke-<scenario>-<run id> and stopped again where the API allows
// (experiments are cancelled; a service account is disabled — the API deletes neither).
//
// Credentials. Every scenario logs in as Credentials.Primary, a user of one tenant holding the
// operator or admin role (experiments are created, started and stopped; admin also lets the auth
// scenario exercise a service account's client-credentials grant). The tenancy scenario also
// needs Credentials.Other, an operator or admin of a second tenant: a platform administrator
// cannot stand in for it, because the API creates users only inside the caller's own tenant, so
// a smoke test could create a tenant but never log in to it. The other account needs the same
// permissions as the first, or a 403 would hide whether the tenant check itself holds.
//
// Analysis. The API cannot run an analysis on demand: the analyzer runs when an experiment's run
// ends, on KPI windows measured from real collectors. The analysis scenario therefore checks a
// completed experiment's stored analysis — the one named in Options.Experiment, else the
// lifecycle scenario's when it ran with ExpectComplete, else the tenant's newest completed
// experiment (skipped when there is none) — and that an experiment that has not run has none.
// The lifecycle scenario with ExpectComplete is the full round trip; it needs a platform where
// collectors run (a cluster, or `phoenix dev --collector`). Without collectors, Phoenix fails the
// experiment while deploying, and the lifecycle scenario fails with that reason.
//
// Only the CLI (phoenix test integration) and the integration suites import it; no deployable
// may.
package smoke
