package integration

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/phoenixotel/phoenix/cmd/phoenix/smoke"
	"github.com/phoenixotel/phoenix/shared/experiment"
	"github.com/phoenixotel/phoenix/shared/store"
	"github.com/phoenixotel/phoenix/test/collector"
)

// TestConsole_SignInAndFollowTheExperimentsLive drives the console in a real headless Chromium
// against phoenix dev, by keyboard alone: a user signs in, sees the tenant's experiment, and sees
// its state change live (the gateway's tenant channel) when it is stopped through the API. No
// token is in browser storage or in reach of script; the session is an HttpOnly SameSite cookie
// that survives a reload and ends with sign-out. The Content-Security-Policy stops an injected
// inline script. Each view is saved as a screenshot under test-output/console.
func TestConsole_SignInAndFollowTheExperimentsLive(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	p := startDev(t, devOptions{})
	acct := p.user(t, p.tenant(t, "console"), "ops@console.example", "operator")
	token := login(t, p.target, acct)
	exp := pending(t, p, token, "watched from the console")

	res, err := http.Get(p.target.API + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); res.StatusCode != http.StatusOK || !strings.Contains(csp, "script-src 'self'") ||
		strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("GET /console/: %d, CSP %q; want 200 with a CSP that allows no inline script (is the console built? make console)", res.StatusCode, csp)
	}

	ctx := browse(t, browser)
	shots := screenshots(t)
	row := `tr[data-id="` + exp.ID.String() + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(p.target.API+"/console/"),
		chromedp.WaitVisible(`input[name=tenant]`),
		shots.take("login"),
		// The sign-in form takes the focus: type, Tab to the next field, Enter to submit.
		chromedp.KeyEvent(acct.Tenant+"\t"+acct.Email+"\t"+acct.Password+"\r"),
		chromedp.WaitVisible(row),
		shots.take("experiments"),
	); err != nil {
		t.Fatalf("sign in and see the experiment: %v", err)
	}
	if state, err := chromedp.Run(ctx, chromedp.Text(row+` td.state`)); err != nil || state != "pending" {
		t.Fatalf("the experiment shows %q (%v), want pending", state, err)
	}

	// Stopped through the API: the row follows live, without a reload.
	send(t, p, token, http.MethodPost, "/v1/experiments/"+exp.ID.String()+"/stop", nil, http.StatusAccepted, nil)
	if err := chromedp.Do(ctx, waitText(row+` td.state`, "cancelled"), shots.take("live")); err != nil {
		t.Fatalf("the stopped experiment's state in the console: %v", err)
	}

	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(localStorage.length + sessionStorage.length) + "|" + document.cookie`))
	if err != nil {
		t.Fatal(err)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.createElement('script'); `+
		`s.textContent = 'window.__injected = true'; document.body.appendChild(s); return window.__injected === true; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if stored != "0|" {
		t.Errorf("browser storage and script-readable cookies hold %q, want nothing: the access token stays in page memory", stored)
	}
	if injected {
		t.Error("an injected inline script ran: the Content-Security-Policy must block it")
	}
	jar, err := chromedp.Run(ctx, cookies(p.target.API+"/v1/auth/refresh"))
	if err != nil {
		t.Fatal(err)
	}
	if len(jar) != 1 || !jar[0].HTTPOnly || jar[0].SameSite != network.CookieSameSiteStrict || jar[0].Path != "/v1/auth/" {
		t.Fatalf("the session cookie: %+v; want one HttpOnly SameSite=Strict cookie for /v1/auth/", jar)
	}

	// A reload keeps the session; the keyboard alone reaches the experiment; sign-out ends it,
	// and a reload then asks to sign in.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(row), tabTo(row+" a", 20), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`.experiment h1`), shots.take("keyboard")); err != nil {
		t.Fatalf("reload, then open the experiment by keyboard: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.target.API+"/console/"), chromedp.WaitVisible(row),
		chromedp.Click(`button.signout`), chromedp.WaitVisible(`input[name=tenant]`),
		chromedp.Reload(), chromedp.WaitVisible(`input[name=tenant]`)); err != nil {
		t.Fatalf("sign out, then reload: %v", err)
	}
	if jar, err := chromedp.Run(ctx, cookies(p.target.API+"/v1/auth/refresh")); err != nil || len(jar) != 0 {
		t.Fatalf("after sign-out the browser holds %+v (%v), want no session cookie", jar, err)
	}
	if err := chromedp.Do(ctx, signIn(p.target.API+"/console/", acct), chromedp.WaitVisible(row)); err != nil {
		t.Fatal(err)
	}

	// Readable on a phone: at 390 px nothing runs off the side of the page.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.WaitVisible(row), shots.take("experiments-390")); err != nil {
		t.Fatal(err)
	}
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Errorf("at 390 px the page is %d px wide (%v): it must fit", w, err)
	}
}

// pending creates an experiment (process-baseline against process-topk) as token and leaves it
// pending.
func pending(t *testing.T, p *platform, token, name string) store.Experiment {
	t.Helper()
	var exp store.Experiment
	send(t, p, token, http.MethodPost, "/v1/experiments", map[string]any{"name": name, "duration_seconds": 600,
		"baseline": map[string]any{"template": "process-baseline"}, "candidate": map[string]any{"template": "process-topk"}},
		http.StatusCreated, &exp)
	return exp
}

// chromium finds Debian's Chromium (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the console's browser tests need Chromium: apt-get install chromium (.ci/run installs it)")
	return ""
}

// browse starts a headless Chromium of the test's own (a fresh profile, nothing downloaded) and
// returns a context that drives one tab of it, bounded to two minutes once the browser runs.
func browse(t *testing.T, browser string) context.Context {
	t.Helper()
	return browseFor(t, browser, 2*time.Minute)
}

// browseFor is browse, bounded to limit.
func browseFor(t *testing.T, browser string, limit time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, on a context without a deadline
		t.Fatalf("start %s: %v", browser, err)
	}
	ctx, cancelTime := context.WithTimeout(ctx, limit)
	t.Cleanup(cancelTime)
	return ctx
}

// cookies are the browser's cookies for url, HttpOnly ones included.
func cookies(url string) chromedp.Action[[]*network.Cookie] {
	return func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		return res.Cookies, err
	}
}

// tabTo presses Tab until the focus is on sel, at most n times.
func tabTo(sel string, n int) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for range n {
			if _, err := chromedp.KeyEvent("\t")(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
			if on, err := chromedp.Evaluate[bool](`document.activeElement === document.querySelector(`+jsString(sel)+`)`)(ctx, t); err != nil || on {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, fmt.Errorf("%d presses of Tab never reached %s", n, sel)
	}
}

// waitText waits until the element's text is want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](`document.querySelector(`+jsString(sel)+`)?.textContent === `+jsString(want),
		chromedp.WithPollingInterval(100*time.Millisecond)))
}

// void runs a and drops its value, for chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// shooter saves screenshots of the console's views under test-output/console.
type shooter struct{ dir string }

func screenshots(t *testing.T) shooter {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "test-output", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return shooter{dir: dir}
}

func (s shooter) take(view string) chromedp.Action[chromedp.Void] {
	shot := chromedp.FullScreenshot(100) // 100: PNG
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		png, err := shot(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(s.dir, view+".png"), png, 0o600)
	}
}

// TestConsole_AnExperimentsChartGainsPointsLive opens a running experiment (real collectors,
// 6 s windows) in the console: the chart of both variants holds the windows closed so far and
// gains a point as the next window closes, without a reload, and the timeline shows the run.
func TestConsole_AnExperimentsChartGainsPointsLive(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"}})
	acct, _, id := startRun(t, p, "charted")
	ctx := browse(t, browser)
	shots := screenshots(t)
	if err := chromedp.Do(ctx,
		installDropper(),
		signIn(p.target.API+"/console/#/experiments/"+id, acct),
		chromedp.WaitVisible(`.chart canvas`),
		waitText(`#state`, "running"),
		chromedp.WaitVisible(`p.progress progress`),
	); err != nil {
		t.Fatalf("open the running experiment: %v", err)
	}
	points := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector('.chart').dataset.points)`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := points()
	if first < 1 {
		t.Fatalf("the chart holds %d windows of a run that has delivered some", first)
	}
	if err := chromedp.Do(ctx, void(chromedp.Poll[bool](`Number(document.querySelector('.chart').dataset.points) > `+strconv.Itoa(first),
		chromedp.WithPollingInterval(200*time.Millisecond))), shots.take("experiment")); err != nil {
		t.Fatalf("the chart did not gain a point as a window closed (it held %d): %v", first, err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('ol.timeline li').length`)); err != nil || n < 3 {
		t.Fatalf("the timeline shows %d transitions (%v), want the run's three", n, err)
	}

	// The two collector configurations, side by side: the candidate's top-k processor is a line
	// only it has.
	if err := chromedp.Do(ctx, chromedp.Click(`details.manifests summary`), chromedp.WaitVisible(`.diff .added`), shots.take("manifests")); err != nil {
		t.Fatalf("the configurations side by side: %v", err)
	}
	added, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.diff .added')].map(e => e.textContent).join('\n')`))
	if err != nil || !strings.Contains(added, "phoenix_topk") {
		t.Fatalf("the lines only the candidate has: %q (%v), want its top-k processor", added, err)
	}

	// The connection drops, and every reconnection fails for 8 s (more than a window): back, the
	// console asks for what it missed (since) and the chart holds every window the API has.
	before := points()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__drop(8000)`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, void(chromedp.Poll[bool](`Number(document.querySelector('.chart').dataset.points) >= `+strconv.Itoa(before+2),
		chromedp.WithPollingInterval(200*time.Millisecond)))); err != nil {
		t.Fatalf("the chart after a dropped connection: %v", err)
	}
	sockets, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sockets.length`))
	if err != nil || sockets < 3 {
		t.Fatalf("%d WebSockets opened (%v): want the first, a refused retry and the reconnection", sockets, err)
	}
	starts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.chart').dataset.starts`))
	if err != nil {
		t.Fatal(err)
	}
	var windows []store.KPIWindow
	{
		var page struct {
			Items []store.KPIWindow `json:"items"`
		}
		getJSON(t, p.target, login(t, p.target, acct), "/v1/experiments/"+id+"/kpis?limit=5000", &page)
		windows = page.Items
	}
	charted := map[string]bool{}
	last := int64(0)
	for _, s := range strings.Split(starts, ",") {
		charted[s] = true
		if n, _ := strconv.ParseInt(s, 10, 64); n > last {
			last = n
		}
	}
	for _, w := range windows {
		if at := w.WindowStart.Unix(); at <= last && !charted[strconv.FormatInt(at, 10)] {
			t.Errorf("the window of %s (%s) is missing from the chart after the reconnection", w.WindowStart, w.Variant)
		}
	}
}

// dropScript runs in the console's page before its own scripts (DevTools, not the page: the CSP
// does not apply). It records every WebSocket, and window.__drop(ms) closes them and sends every
// new one to a path the gateway refuses for ms: a connection lost, and reconnections failing.
const dropScript = `(() => {
  const Real = WebSocket;
  window.__sockets = [];
  let blockedUntil = 0;
  window.WebSocket = function (url, protocols) {
    const ws = new Real(Date.now() < blockedUntil ? url + '-refused' : url, protocols);
    window.__sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Real.prototype;
  window.__drop = (ms) => { blockedUntil = Date.now() + ms; window.__sockets.forEach((s) => s.close()); return true; };
})();`

// installDropper adds dropScript to every page the tab opens.
func installDropper() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: dropScript})
		return chromedp.Void{}, err
	}
}

// TestConsole_MakeRunWatchedToItsVerdict is the console's promise to a new user: `make run`
// (phoenix demo, here a minute of 6 s windows with real collectors) prints the console's URL and
// a login as it starts; signed in with them, the browser follows the demo experiment live — its
// chart gaining points as windows close — to the verdict report, without a reload: the verdict,
// a row per metric with its interval drawn, the rules applied, the look-by-look chart, the
// critical processes kept in every window, and the Markdown for a pull request.
func TestConsole_MakeRunWatchedToItsVerdict(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	p := startDev(t, devOptions{collector: collector.Binary(t), env: []string{"PHOENIX_KPI_WINDOW=6s"},
		demo: []string{"--duration", "1m", "--interval", "2s", "--processes", "12"}})
	if p.console != p.target.API+"/console/" || p.login.Password == "" {
		t.Fatalf("phoenix demo printed the console %q and the login %+v; want the API's /console/ and a password:\n%s", p.console, p.login, p.out.Tail(4<<10))
	}
	ctx := browseFor(t, browser, 5*time.Minute)
	shots := screenshots(t)
	points := `Number(document.querySelector('.chart[data-points]')?.dataset.points || 0)`
	if err := chromedp.Do(ctx,
		signIn(p.console, p.login),
		chromedp.WaitVisible(`tbody tr[data-id] a`),
		chromedp.Click(`tbody tr[data-id] a`),
		chromedp.WaitVisible(`.chart[data-points]`),
	); err != nil {
		t.Fatalf("sign in with what make run printed and open the demo experiment: %v", err)
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[int](points))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		void(chromedp.Poll[bool](points+` > `+strconv.Itoa(seen), chromedp.WithPollingInterval(200*time.Millisecond))),
		shots.take("demo-live"),
		chromedp.WaitVisible(`#report .verdict`),
	); err != nil {
		t.Fatalf("the demo experiment followed live to its verdict (the chart held %d windows at first): %v", seen, err)
	}
	token := login(t, p.target, p.login)
	var page struct {
		Items []store.Experiment `json:"items"`
	}
	getJSON(t, p.target, token, "/v1/experiments", &page)
	if len(page.Items) != 1 || page.Items[0].Verdict == nil {
		t.Fatalf("the demo tenant's experiments: %+v; want the demo's, with its verdict", page.Items)
	}
	verdict := *page.Items[0].Verdict
	if err := chromedp.Do(ctx, waitText(`#report .verdict`, verdict), shots.take("report")); err != nil {
		t.Fatalf("the report's verdict, want %s: %v", verdict, err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#report tr.metric').length`))
	if err != nil || rows < 4 {
		t.Fatalf("the report shows %d metrics (%v), want one row per measured metric", rows, err)
	}
	// The looks the analyzer took, and the critical processes kept in every window.
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector('.chart.looks')?.dataset.looks || 0)`)); err != nil || n < 1 {
		t.Errorf("the look-by-look chart holds %d looks (%v), want the run's", n, err)
	}
	covered, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelectorAll('.coverage td.covered').length + '/' + document.querySelectorAll('.coverage td.missed').length`))
	if err != nil || strings.HasPrefix(covered, "0/") || !strings.HasSuffix(covered, "/0") {
		t.Errorf("the coverage grid: %s covered/missed cells (%v), want the demo's critical processes kept in every window", covered, err)
	}
	// Readable on a phone: at 390 px the report scrolls within itself, the page does not.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.WaitVisible(`#report .verdict`), shots.take("report-390")); err != nil {
		t.Fatal(err)
	}
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Errorf("at 390 px the experiment's page is %d px wide (%v): it must fit", w, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	md, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#report textarea.markdown').value`))
	if err != nil || !strings.Contains(md, "— "+verdict) || !strings.Contains(md, "| datapoints_per_second |") {
		t.Fatalf("the Markdown for a pull request: %q (%v)", md, err)
	}
}

// TestConsole_ActionsFollowPermissionsAndTenants: a viewer sees an experiment but no action, an
// operator stops it from the console (and the actions that no longer apply go), and a user of
// another tenant who opens its URL is told there is no such experiment.
func TestConsole_ActionsFollowPermissionsAndTenants(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	p := startDev(t, devOptions{})
	tenant := p.tenant(t, "roles")
	operator := p.user(t, tenant, "ops@roles.example", "operator")
	viewer := p.user(t, tenant, "viewer@roles.example", "viewer")
	stranger := p.user(t, p.tenant(t, "stranger"), "ops@stranger.example", "operator")
	token := login(t, p.target, operator)
	exp := pending(t, p, token, "acted on")
	url := p.target.API + "/console/#/experiments/" + exp.ID.String()
	browserCtx := browse(t, browser)
	shots := screenshots(t)
	tab := func() context.Context {
		// A browser context of its own (cookies included), as another person's browser: a tab
		// of the same profile shares the profile's session cookie.
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		return ctx
	}
	actions := func(ctx context.Context) []string {
		verbs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('button.action')].map(b => b.dataset.verb)`))
		if err != nil {
			t.Fatal(err)
		}
		return verbs
	}

	asViewer := tab()
	if err := chromedp.Do(asViewer, signIn(url, viewer), chromedp.WaitVisible(`#state`), shots.take("viewer")); err != nil {
		t.Fatalf("the viewer opens the experiment: %v", err)
	}
	if verbs := actions(asViewer); len(verbs) != 0 {
		t.Errorf("a viewer is offered %v, want no action", verbs)
	}

	asOperator := tab()
	if err := chromedp.Do(asOperator, signIn(url, operator), chromedp.WaitVisible(`button.action[data-verb=stop]`)); err != nil {
		t.Fatalf("the operator opens the experiment: %v", err)
	}
	if verbs := strings.Join(actions(asOperator), ","); verbs != "start,stop" {
		t.Errorf("an operator is offered %s for a pending experiment, want start,stop", verbs)
	}
	if err := chromedp.Do(asOperator, chromedp.Click(`button.action[data-verb=stop]`), waitText(`#state`, "cancelled")); err != nil {
		t.Fatalf("stop from the console: %v", err)
	}
	if verbs := actions(asOperator); len(verbs) != 0 {
		t.Errorf("a cancelled experiment still offers %v", verbs)
	}

	if has, err := chromedp.Run(asViewer, chromedp.Evaluate[bool](`document.querySelector('a.admin') !== null`)); err != nil || has {
		t.Errorf("a viewer is offered the administration (%v)", err)
	}
	// An admin reads the tenant's users and its audit log.
	admin := p.user(t, tenant, "admin@roles.example", "admin")
	asAdmin := tab()
	if err := chromedp.Do(asAdmin, signIn(p.target.API+"/console/#/admin", admin), chromedp.WaitVisible(`#users table`),
		chromedp.WaitVisible(`#audit table`), shots.take("admin")); err != nil {
		t.Fatalf("the admin view: %v", err)
	}
	users, err := chromedp.Run(asAdmin, chromedp.Text(`#users table`))
	if err != nil || !strings.Contains(users, viewer.Email) || !strings.Contains(users, operator.Email) {
		t.Errorf("the admin's users: %q (%v), want the viewer and the operator", users, err)
	}
	if n, err := chromedp.Run(asAdmin, chromedp.Evaluate[int](`document.querySelectorAll('#audit tbody tr').length`)); err != nil || n == 0 {
		t.Errorf("the audit log shows %d events (%v), want the stop and the sign-ins", n, err)
	}

	asStranger := tab()
	if err := chromedp.Do(asStranger, signIn(url, stranger), chromedp.WaitVisible(`#problem`), shots.take("not-found")); err != nil {
		t.Fatalf("another tenant's user opens the URL: %v", err)
	}
	if msg, err := chromedp.Run(asStranger, chromedp.Text(`#problem`)); err != nil || !strings.Contains(msg, "no such experiment") {
		t.Errorf("another tenant's user reads %q (%v), want that there is no such experiment", msg, err)
	}
}

// signIn opens url and signs in as acct.
func signIn(url string, acct smoke.Account) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(url),
		chromedp.WaitVisible(`input[name=tenant]`),
		chromedp.SendKeys(`input[name=tenant]`, acct.Tenant),
		chromedp.SendKeys(`input[name=email]`, acct.Email),
		chromedp.SendKeys(`input[name=password]`, acct.Password),
		chromedp.Click(`button[type=submit]`),
	)
}

// TestConsole_CreateAnExperimentWithInlineValidation: an operator fills the new-experiment form;
// a parameter the collector would refuse is named inline as it is typed, and goes when it is
// fixed; the tenant's own saved pipeline is chosen as the candidate; create and start land on the
// new experiment's page, which follows it to running with real collectors.
func TestConsole_CreateAnExperimentWithInlineValidation(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	p := startDev(t, devOptions{collector: collector.Binary(t)})
	acct := p.user(t, p.tenant(t, "creator"), "ops@creator.example", "operator")
	token := login(t, p.target, acct)
	send(t, p, token, http.MethodPost, "/v1/pipelines", map[string]any{"name": "no-threads", "definition": map[string]any{"processors": []any{
		map[string]any{"name": "filter/threads", "config": map[string]any{"metrics": map[string]any{"metric": []any{`metric.name == "process.threads"`}}}},
	}}}, http.StatusCreated, nil)
	ctx := browse(t, browser)
	shots := screenshots(t)
	interval := `fieldset[data-variant=candidate] input[name="candidate.collection_interval"]`
	problems := `fieldset[data-variant=candidate] ul.problems`
	if err := chromedp.Do(ctx,
		signIn(p.target.API+"/console/#/new", acct),
		chromedp.WaitVisible(interval),
		typeInto(interval, "1ms"),
		chromedp.WaitVisible(problems),
		shots.take("new-invalid"),
	); err != nil {
		t.Fatalf("an invalid parameter named inline: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(problems)); err != nil || !strings.Contains(msg, "collection_interval") {
		t.Fatalf("the inline problem reads %q (%v), want it to name collection_interval", msg, err)
	}
	noProblems := void(chromedp.Poll[bool](`document.querySelector(`+jsString(problems)+`) === null`, chromedp.WithPollingInterval(100*time.Millisecond)))
	if err := chromedp.Do(ctx,
		typeInto(interval, "2s"),
		noProblems,
		// The tenant's own pipeline as the candidate, checked by the collector as it is chosen.
		choose(`select[name="candidate.template"]`, "saved:no-threads"),
		typeInto(interval, "2s"),
		noProblems,
		shots.take("new-own-pipeline"),
		chromedp.SendKeys(`input[name=name]`, "made in the console"),
		chromedp.SendKeys(`input[name=critical]`, "nginx"),
		// Success criteria: series no longer decided on; memory may grow by up to 10%.
		chromedp.Click(`input[name="criteria.series.decide"]`),
		typeInto(`input[name="criteria.collector_memory.percent"]`, "10"),
		shots.take("new-criteria"),
		chromedp.Click(`form.create button[type=submit]`),
		waitText(`h1`, "made in the console"),
		waitText(`#state`, "running"),
		shots.take("created"),
	); err != nil {
		t.Fatalf("create and start: %v", err)
	}
	var page struct {
		Items []store.Experiment `json:"items"`
	}
	getJSON(t, p.target, token, "/v1/experiments", &page)
	if len(page.Items) != 1 || page.Items[0].Name != "made in the console" || page.Items[0].State == "pending" ||
		len(page.Items[0].Spec.CriticalProcesses) != 1 || page.Items[0].Candidate.Parameters["collection_interval"] != "2s" ||
		page.Items[0].Candidate.Pipeline != "no-threads" || page.Items[0].Candidate.Template != "custom" {
		t.Fatalf("the tenant's experiments: %+v; want the one made in the console, started, with its critical process, and the saved pipeline at 2 s as candidate", page.Items)
	}
	got := map[string]experiment.Criterion{}
	for _, c := range page.Items[0].Spec.SuccessCriteria {
		got[c.Metric] = c
	}
	want := map[string]experiment.Criterion{
		"bytes_per_second": {Metric: "bytes_per_second"}, "cost_per_hour": {Metric: "cost_per_hour"},
		"datapoints_per_second": {Metric: "datapoints_per_second"},
		"collector_cpu":         {Metric: "collector_cpu", Critical: true, Tolerance: 0.05, ToleranceFloor: 0.01},
		"collector_memory":      {Metric: "collector_memory", Critical: true, Tolerance: 0.1, ToleranceFloor: 16 << 20},
	}
	if !maps.Equal(got, want) {
		t.Fatalf("the success criteria made in the console: %+v, want %+v", got, want)
	}
}

// choose selects value in a select element as a user does (the page sees a change event).
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Evaluate[bool](`(() => { const e = document.querySelector(` + jsString(sel) + `); e.value = ` + jsString(value) +
		`; e.dispatchEvent(new Event('change', {bubbles: true})); return e.value === ` + jsString(value) + `; })()`))
}

// typeInto replaces an input's value as typing does (the page sees input events).
func typeInto(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		void(chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+jsString(sel)+`); e.value = ''; `+
			`e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`)),
		chromedp.SendKeys(sel, value),
	)
}
