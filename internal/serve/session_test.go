package serve_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/serve"
)

// explorer is a browser of the explorer: it logs in with a form and
// calls the API with whatever session cookie it is given.
type explorer struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newExplorer(t *testing.T, base string, c *http.Client) *explorer {
	return &explorer{t: t, base: base, c: c}
}

// post posts body of content type ctype to path with the cookie ck (if
// set) and returns the status, the session cookie set (nil if none), the
// body and the headers of the answer.
func (e *explorer) post(path, ctype, body string, ck *http.Cookie) (int, *http.Cookie, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == serve.SessionCookie {
			session = c
		}
	}
	return resp.StatusCode, session, string(b), resp.Header
}

// login posts the token, sending the cookie old along if set, and returns
// the status, the session cookie set (nil if none), the page's text and
// the headers.
func (e *explorer) login(tok string, old *http.Cookie) (int, *http.Cookie, string, http.Header) {
	e.t.Helper()
	return e.post("/ui/login", "application/x-www-form-urlencoded", url.Values{"token": {tok}}.Encode(), old)
}

// api calls GetNodes with ck and returns the status and the body.
func (e *explorer) api(ck *http.Cookie) (int, string) {
	e.t.Helper()
	code, _, body, _ := e.post("/rdg.v1.GraphService/GetNodes", "application/json", `{"refs":[]}`, ck)
	return code, body
}

func (e *explorer) mustLogin(old *http.Cookie) *http.Cookie {
	e.t.Helper()
	code, ck, body, _ := e.login(secToken, old)
	if code != http.StatusSeeOther || ck == nil {
		e.t.Fatalf("login: %d, cookie %v: %s", code, ck, body)
	}
	return ck
}

func TestExplorerSessionExpires(t *testing.T) {
	e := newExplorer(t, secServe(t, secHandler(t, secToken, serve.SessionTTL(time.Second)), nil), secH1(t))
	ck := e.mustLogin(nil)
	if ck.MaxAge != 1 || ck.Expires.IsZero() || time.Until(ck.Expires) > 2*time.Second {
		t.Errorf("cookie Max-Age %d, Expires %v: want the session's one second", ck.MaxAge, ck.Expires)
	}
	if code, body := e.api(ck); code != 200 {
		t.Fatalf("fresh session: %d %s", code, body)
	}
	// The server ends the session, whatever the browser does with its
	// cookie: await the refusal.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := e.api(ck)
		if code == http.StatusUnauthorized {
			if !strings.Contains(body, "session expired or invalid") {
				t.Errorf("expired session: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session still valid 10 s after its one-second life: %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The default life is DefaultSessionTTL.
	e = newExplorer(t, secServe(t, secHandler(t, secToken), nil), secH1(t))
	if ck := e.mustLogin(nil); ck.MaxAge != int(serve.DefaultSessionTTL/time.Second) {
		t.Errorf("default Max-Age %d, want %v", ck.MaxAge, serve.DefaultSessionTTL)
	}
}

// TestExplorerLoginRotates: each login is a new session, and the one the
// browser had before ends.
func TestExplorerLoginRotates(t *testing.T) {
	e := newExplorer(t, secServe(t, secHandler(t, secToken), nil), secH1(t))
	first := e.mustLogin(nil)
	other := e.mustLogin(nil) // another browser
	second := e.mustLogin(first)
	if first.Value == second.Value || first.Value == other.Value || len(first.Value) < 64 {
		t.Errorf("session values %q, %q, %q: want distinct random ids", first.Value, other.Value, second.Value)
	}
	if code, _ := e.api(first); code != http.StatusUnauthorized {
		t.Errorf("session replaced by a new login: %d, want 401", code)
	}
	for _, ck := range []*http.Cookie{second, other} {
		if code, body := e.api(ck); code != 200 {
			t.Errorf("live session: %d %s", code, body)
		}
	}
}

// TestExplorerLogoutRevokes: after logout the cookie is worth nothing,
// even to someone who kept a copy.
func TestExplorerLogoutRevokes(t *testing.T) {
	e := newExplorer(t, secServe(t, secHandler(t, secToken), nil), secH1(t))
	ck := e.mustLogin(nil)
	other := e.mustLogin(nil)
	if code, _, body, _ := e.post("/ui/logout", "", "", ck); code != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _ := e.api(ck); code != http.StatusUnauthorized {
		t.Errorf("copy of a logged-out session: %d, want 401", code)
	}
	if code, _ := e.api(other); code != 200 {
		t.Errorf("another browser's session after a logout: %d, want 200", code)
	}
}

// TestExplorerSessionsEndWithTheToken: a server started with another
// token (or restarted) knows none of the previous sessions.
func TestExplorerSessionsEndWithTheToken(t *testing.T) {
	c := secH1(t)
	ck := newExplorer(t, secServe(t, secHandler(t, secToken), nil), c).mustLogin(nil)
	for _, tok := range []string{"an0ther-Token", secToken} {
		e := newExplorer(t, secServe(t, secHandler(t, tok), nil), c)
		if code, _ := e.api(ck); code != http.StatusUnauthorized {
			t.Errorf("a session of another server (token %q): %d, want 401", tok, code)
		}
	}
}

// TestExplorerLoginRateLimit: failed logins are limited per client
// address; over the limit even the right token gets 429, and other
// addresses are not affected.
func TestExplorerLoginRateLimit(t *testing.T) {
	base := secServe(t, secHandler(t, secToken, serve.LoginAttempts(3, time.Hour)), nil)
	e := newExplorer(t, base, secH1(t))
	for i := range 3 {
		if code, ck, _, _ := e.login("wrong", nil); code != http.StatusUnauthorized || ck != nil {
			t.Fatalf("failed login %d: %d, cookie %v", i+1, code, ck)
		}
	}
	code, ck, body, hdr := e.login(secToken, nil)
	if code != http.StatusTooManyRequests || ck != nil || !strings.Contains(body, "Too many failed logins") {
		t.Errorf("login over the limit: %d, cookie %v:\n%s", code, ck, body)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Errorf("Retry-After %q, want seconds until the next attempt (at most an hour)", hdr.Get("Retry-After"))
	}

	// 127.0.0.2 is another client address on the loopback interface.
	var p http.Protocols
	p.SetHTTP1(true)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other := closeIdle(t, &http.Client{
		Transport:     &http.Transport{Protocols: &p, DialContext: d.DialContext, TLSClientConfig: &tls.Config{}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	e2 := newExplorer(t, base, other)
	if code, _, _, _ := e2.login("wrong", nil); code != http.StatusUnauthorized {
		t.Errorf("another address, wrong token: %d, want 401", code)
	}
	e2.mustLogin(nil) // and the right one logs in
}

// TestExplorerSessionCookieSecureOverTLS: the cookie is Secure when the
// login came over TLS.
func TestExplorerSessionCookieSecureOverTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir(), "rdg test")
	cfg, err := serve.TLSConfig(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := closeIdle(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }})
	ck := newExplorer(t, secServe(t, secHandler(t, secToken), cfg), c).mustLogin(nil)
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie over TLS: %+v, want Secure, HttpOnly, SameSite=Strict", ck)
	}
}
