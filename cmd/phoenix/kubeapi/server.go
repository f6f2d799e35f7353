// Package kubeapi runs a real Kubernetes API server: kube-apiserver and the etcd it stores into,
// both built from deploy/apiserver (Kubernetes' and etcd's own code), on free loopback ports under
// a directory of the caller's. `phoenix validate cluster` applies the release to one; test/kubeapi
// starts one per test.
//
// Authentication is a static token file — an admin in system:masters and any identities the caller
// names — and real ServiceAccount tokens minted through the TokenRequest API; authorization is
// RBAC; admission is the API server's default chain. No controller, scheduler or kubelet runs:
// objects are validated, defaulted and stored, never reconciled.
package kubeapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Admin is the user in system:masters whose token Start always writes: it may do anything.
const Admin = "phoenix-test-admin"

// readyWithin bounds a start: the API server is ready in 3–6 s on an idle two-core machine, but
// make test runs it beside every other suite's builds and servers.
const readyWithin = 2 * time.Minute

// User is an identity the token file authenticates; the API server adds system:authenticated.
type User struct {
	Name   string   // the user name RBAC subjects match
	Groups []string // its groups
}

// ServiceAccount is the identity a ServiceAccount's token carries, for callers that need one
// before the ServiceAccount object exists (ServiceAccountToken mints the real thing).
func ServiceAccount(namespace, name string) User {
	return User{Name: "system:serviceaccount:" + namespace + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}
}

// Options say which binaries to run, where, and for whom.
type Options struct {
	APIServer, Etcd string // the binaries (make apiserver builds them into bin/)
	Dir             string // data, certificates, token file and logs: a directory of the caller's
	Users           []User // identities besides Admin
}

// Server is one running kube-apiserver with its etcd.
type Server struct {
	URL string // https://127.0.0.1:PORT
	CA  []byte // PEM certificates the serving certificate chains to (kube-apiserver's self-signed CA in --cert-dir)
	Dir string // the servers' directory: data, certificates, token file, logs

	tokens    map[string]string // user name → its static bearer token
	client    *http.Client      // trusts CA
	etcd      *process          // the storage
	apiserver *process          // the API server
}

// Start runs etcd and kube-apiserver with Admin and o.Users in the token file and returns once
// /readyz answers ok. The caller stops both with Stop, also when Start fails.
func Start(ctx context.Context, o Options) (*Server, error) {
	s := &Server{Dir: o.Dir, tokens: map[string]string{}}
	if err := s.writeCredentials(append([]User{{Name: Admin, Groups: []string{"system:masters"}}}, o.Users...)); err != nil {
		return s, fmt.Errorf("kubeapi: %w", err)
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = s.start(ctx, o.APIServer, o.Etcd, attempt); !errors.Is(err, errPortTaken) {
			break
		}
		s.Stop()
	}
	if err != nil {
		return s, fmt.Errorf("kubeapi: %w", err)
	}
	return s, nil
}

// Token is user's static bearer token; false for a user not given to Start.
func (s *Server) Token(user string) (string, bool) {
	tok, ok := s.tokens[user]
	return tok, ok
}

// Stopped says whether both servers have exited.
func (s *Server) Stopped() bool {
	for _, p := range []*process{s.apiserver, s.etcd} {
		if p == nil {
			continue
		}
		select {
		case <-p.exited:
		default:
			return false
		}
	}
	return true
}

// LogTails is the end of both servers' logs, for a failure's message.
func (s *Server) LogTails() string {
	var b strings.Builder
	for _, p := range []*process{s.apiserver, s.etcd} {
		if p != nil {
			fmt.Fprintf(&b, "end of %s's log (%s):\n%s\n", p.name, p.log, p.tail(30))
		}
	}
	return b.String()
}

// writeCredentials writes the token file and the ServiceAccount signing key.
func (s *Server) writeCredentials(users []User) error {
	var file strings.Builder
	for i, u := range users {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		tok := hex.EncodeToString(b[:])
		s.tokens[u.Name] = tok
		// token,user,uid,"group1,group2" — the format of --token-auth-file.
		fmt.Fprintf(&file, "%s,%s,uid-%d,%q\n", tok, u.Name, i, strings.Join(u.Groups, ","))
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "tokens.csv"), []byte(file.String()), 0o600); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	return nil
}

// start runs both servers on ports chosen now and waits for them; each attempt gets its own
// directories, so a failed one leaves nothing behind for the next.
func (s *Server) start(ctx context.Context, apiserverBin, etcdBin string, attempt int) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.Dir, "attempt-"+strconv.Itoa(attempt))
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		return err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	s.etcd, err = startProcess("etcd", etcdBin, filepath.Join(dir, "etcd.log"),
		"--name", "phoenix-test", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "phoenix-test="+peer,
		"--unsafe-no-fsync", // a test's data need not survive a power cut; fsync costs seconds on a busy disk
		"--log-level", "warn")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	if err := waitFor(ctx, s.etcd, func() (bool, string) { return etcdHealthy(ctx, client) }); err != nil {
		return err
	}

	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	certs := filepath.Join(dir, "certs")
	s.apiserver, err = startProcess("kube-apiserver", apiserverBin, filepath.Join(dir, "kube-apiserver.log"),
		"--etcd-servers", client,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", certs, // it writes a self-signed CA and serving certificate for 127.0.0.1 and localhost here
		"--authorization-mode", "RBAC",
		"--token-auth-file", filepath.Join(s.Dir, "tokens.csv"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(s.Dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(s.Dir, "sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		// No other API server shares this etcd and nothing routes to it: the kubernetes
		// Service's endpoints need not be kept.
		"--endpoint-reconciler-type", "none",
		// As kubeadm and every managed cluster set it: the experiment collectors' DaemonSets use
		// the host's PID namespace, which a cluster refusing privilege would refuse.
		"--allow-privileged=true")
	if err != nil {
		return err
	}
	return waitFor(ctx, s.apiserver, func() (bool, string) { return s.ready(ctx, filepath.Join(certs, "apiserver.crt")) })
}

// waitFor polls check until it holds, p exits, or ctx ends.
func waitFor(ctx context.Context, p *process, check func() (ok bool, last string)) error {
	for {
		ok, last := check()
		if ok {
			return nil
		}
		select {
		case <-p.exited:
			return p.failure()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (last: %s):\n%s", p.name, readyWithin, last, p.tail(40))
		case <-time.After(100 * time.Millisecond): // polling: neither server announces readiness
		}
	}
}

// etcdHealthy asks etcd's /health, which answers once it has a leader and serves reads.
func etcdHealthy(ctx context.Context, client string) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, client+"/health", nil)
	if err != nil {
		return false, err.Error()
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer res.Body.Close()
	var b [256]byte
	n, _ := res.Body.Read(b[:])
	body := string(b[:n])
	return res.StatusCode == http.StatusOK && strings.Contains(body, `"health":"true"`), body
}

// ready asks /readyz, which holds until every post-start hook has run (the RBAC bootstrap roles,
// the built-in priority levels, CRD discovery), once the CA kube-apiserver writes exists.
func (s *Server) ready(ctx context.Context, caFile string) (bool, string) {
	if s.client == nil {
		ca, err := os.ReadFile(caFile) // #nosec G304 -- in the servers' own directory
		if err != nil {
			return false, "no certificate yet"
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return false, "certificate file still being written"
		}
		s.CA = ca
		s.client = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	status, body, err := s.Call(ctx, s.tokens[Admin], http.MethodGet, "/readyz", nil, "")
	if err != nil {
		return false, err.Error()
	}
	return status == http.StatusOK, fmt.Sprintf("%d %s", status, body)
}

// Stop stops kube-apiserver, then etcd (the API server flushes nothing, but stopping it first
// spares its log a page of etcd connection errors).
func (s *Server) Stop() {
	s.apiserver.stop()
	s.etcd.stop()
}

// freePorts asks the kernel for n ports nobody listens on, held open together so they differ.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
