package api

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// consoleCall posts body to path as the console does: the session header, JSON, the jar's
// cookies, and the given extra headers (origin, fetch metadata).
func (f *fixture) consoleCall(t *testing.T, c *http.Client, path, bearer, body string, extra map[string]string) (int, map[string]any, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SessionHeader, "cookie")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Cookies()
}

func TestCookieSession_SurvivesAReloadAndNeverReachesScript(t *testing.T) {
	f := setup(t)
	f.user(t, f.acme, "ann@acme.test", "operator")
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	same := map[string]string{"Origin": f.url, "Sec-Fetch-Site": "same-origin"}
	login := `{"tenant":"acme","email":"ann@acme.test","password":"` + testPassword + `"}`

	code, body, cookies := f.consoleCall(t, browser, "/v1/auth/login", "", login, same)
	if code != http.StatusOK || body["access_token"] == "" {
		t.Fatalf("login: %d %v", code, body)
	}
	if _, ok := body["refresh_token"]; ok {
		t.Fatalf("the refresh token reached the body, where script reads it: %v", body)
	}
	if len(cookies) != 1 {
		t.Fatalf("cookies: %v", cookies)
	}
	c := cookies[0]
	if c.Name != sessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/v1/auth/" || c.MaxAge != 3600 || c.Secure {
		t.Fatalf("cookie attributes: %+v", c)
	}

	// A reload: the page has no token, only the browser's cookie.
	code, body, cookies = f.consoleCall(t, browser, "/v1/auth/refresh", "", `{}`, same)
	if code != http.StatusOK || body["access_token"] == "" || len(cookies) != 1 || cookies[0].Value == c.Value {
		t.Fatalf("refresh from the cookie: %d %v %v", code, body, cookies)
	}
	access := body["access_token"].(string)
	if r := f.do(t, "GET", "/v1/auth/me", access, nil); r.code != http.StatusOK {
		t.Fatalf("me with the refreshed token: %d", r.code)
	}

	// Forgery: another site's page, or a request without the header, gets nothing.
	for name, h := range map[string]map[string]string{
		"another site":   {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site"},
		"a sibling site": {"Sec-Fetch-Site": "same-site"},
		"another origin": {"Origin": "http://evil.test"},
	} {
		if code, body, _ := f.consoleCall(t, browser, "/v1/auth/refresh", "", `{}`, h); code != http.StatusForbidden {
			t.Errorf("%s: %d %v", name, code, body)
		}
		if code, _, _ := f.consoleCall(t, browser, "/v1/auth/login", "", login, h); code != http.StatusForbidden {
			t.Errorf("%s logging in: %d", name, code)
		}
	}
	u, _ := url.Parse(f.url + "/v1/auth/refresh")
	req, _ := http.NewRequest("POST", u.String(), strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	for _, ck := range jar.Cookies(u) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req) // the cookie, without the header: not a console session
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh with the cookie but without %s: %d", SessionHeader, resp.StatusCode)
	}

	// Sign out: the cookie is cleared and the session it held is revoked.
	old := jar.Cookies(u)[0].Value
	code, _, cookies = f.consoleCall(t, browser, "/v1/auth/logout", access, "", same)
	if code != http.StatusNoContent || len(cookies) != 1 || cookies[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", code, cookies)
	}
	if len(jar.Cookies(u)) != 0 {
		t.Fatalf("the jar still holds %v", jar.Cookies(u))
	}
	if r := f.refresh(t, old); r.code != http.StatusUnauthorized {
		t.Fatalf("the signed-out session's token still refreshes: %d", r.code)
	}
	if code, _, _ := f.consoleCall(t, browser, "/v1/auth/refresh", "", `{}`, same); code != http.StatusUnauthorized {
		t.Fatalf("refresh after sign-out: %d", code)
	}
}
