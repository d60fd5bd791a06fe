package serve_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/rdgraph/rdg/internal/access/accesstest"
	rdgv1 "github.com/rdgraph/rdg/internal/api/rdgv1"
	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/serve"
	"github.com/rdgraph/rdg/internal/store"
)

const secToken = "s3cret-Token_42"

// secHandler is the handler rdg's stack assembles: the API over an empty
// Pebble store, reflection, health (serving), the explorer, /healthz,
// /readyz and /metrics, behind RequireToken when token is set.
func secHandler(t *testing.T, token string, opts ...serve.TokenOpt) http.Handler {
	t.Helper()
	st := emptyStore(t)
	health := serve.NewHealth()
	health.SetServing(true)
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, s) })
	}
	var h http.Handler = serve.NewHandler(st,
		serve.WithReflection(), serve.WithHealth(health), serve.WithUI(),
		serve.WithHandle("GET /healthz", text("ok\n")),
		serve.WithHandle("GET /readyz", text("ready\n")),
		serve.WithHandle("GET /metrics", text("# metrics\n")),
	)
	if token != "" {
		h = serve.RequireToken(token, h, nil, opts...)
	}
	return h
}

func emptyStore(t *testing.T) *store.Pebble {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// secServe serves h on a free loopback port, over TLS if cfg is set, and
// returns the base URL.
func secServe(t *testing.T, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if cfg != nil {
		ln, scheme = tls.NewListener(ln, cfg), "https"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return scheme + "://" + ln.Addr().String()
}

func secH1(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	return closeIdle(t, &http.Client{
		Transport: &http.Transport{Protocols: &p},
		// The login tests look at redirects themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
}

// closeIdle closes c's connections at cleanup, before the server (whose
// cleanup was registered earlier) shuts down, so that shutdown need not
// wait for them.
func closeIdle(t *testing.T, c *http.Client) *http.Client {
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func secH2C(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return closeIdle(t, &http.Client{Transport: &http.Transport{Protocols: &p}})
}

// bearer adds an Authorization header to every call of a connect client.
func bearer(tok string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+tok)
			return next(ctx, req)
		}
	}))
}

func secGet(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestTokenPlainHTTP(t *testing.T) {
	url := secServe(t, secHandler(t, secToken), nil)
	c := secH1(t)
	for _, tc := range []struct {
		path, auth string
		code       int
		body       string
	}{
		{"/metrics", "", 401, "missing bearer token"},
		{"/metrics", "Bearer wrong", 401, "invalid bearer token"},
		{"/metrics", "Bearer " + secToken + "x", 401, "invalid bearer token"},
		{"/metrics", "Basic " + secToken, 401, `must be "Bearer <token>"`},
		{"/metrics", "Bearer " + secToken, 200, "# metrics"},
		{"/metrics", "bearer " + secToken, 200, "# metrics"}, // the scheme is case-insensitive
		{"/healthz", "", 200, "ok"},
		{"/readyz", "", 200, "ready"},
		{"/ui/app.js", "", 401, "missing bearer token"},
		{"/ui/app.js", "Bearer " + secToken, 200, ""},
		{"/nothing-here", "", 401, "missing bearer token"}, // no probing for routes
	} {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		resp, body := secGet(t, c, url+tc.path, hdr...)
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s with %q: %d %q, want %d containing %q", tc.path, tc.auth, resp.StatusCode, body, tc.code, tc.body)
		}
		if tc.code == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET %s: 401 without WWW-Authenticate: Bearer", tc.path)
		}
	}
}

func TestTokenEveryRPCProtocol(t *testing.T) {
	url := secServe(t, secHandler(t, secToken), nil)
	h1, h2 := secH1(t), secH2C(t)
	protos := []struct {
		name string
		c    *http.Client
		opts []connect.ClientOption
	}{
		{"connect", h1, nil},
		{"connect-json", h1, []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpcweb", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	req := func() *connect.Request[rdgv1.GetNodesRequest] {
		return connect.NewRequest(&rdgv1.GetNodesRequest{Refs: []*rdgv1.NodeRef{{Type: "account", Id: "m1"}}})
	}
	for _, p := range protos {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range []struct{ token, want string }{{"", "missing bearer token"}, {"wrong", "invalid bearer token"}} {
				opts := p.opts
				if tc.token != "" {
					opts = append(opts[:len(opts):len(opts)], bearer(tc.token))
				}
				_, err := rdgv1connect.NewGraphServiceClient(p.c, url, opts...).GetNodes(context.Background(), req())
				if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("token %q: err = %v, want unauthenticated: ...%s...", tc.token, err, tc.want)
				}
			}
			opts := append(p.opts[:len(p.opts):len(p.opts)], bearer(secToken))
			resp, err := rdgv1connect.NewGraphServiceClient(p.c, url, opts...).GetNodes(context.Background(), req())
			if err != nil {
				t.Fatalf("with the token: %v", err)
			}
			if len(resp.Msg.Missing) != 1 {
				t.Errorf("with the token: %v, want m1 missing", resp.Msg)
			}
		})
	}

	// curl-style JSON without a token: a 401 whose body is a Connect error.
	resp, err := h1.Post(url+"/rdg.v1.GraphService/GetNodes", "application/json", strings.NewReader(`{"refs":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	var cerr struct{ Code, Message string }
	err = json.NewDecoder(resp.Body).Decode(&cerr)
	resp.Body.Close()
	if resp.StatusCode != 401 || err != nil || cerr.Code != "unauthenticated" || !strings.Contains(cerr.Message, "Authorization: Bearer") {
		t.Errorf("JSON POST without token: %d %+v (%v), want 401 unauthenticated naming the header", resp.StatusCode, cerr, err)
	}

	// Probes reach the gRPC health service without the token...
	hc := grpchealth.NewClient(h2, url, connect.WithGRPC())
	if r, err := hc.Check(context.Background(), &grpchealth.CheckRequest{}); err != nil || r.Status != grpchealth.StatusServing {
		t.Errorf("health without token: %v %v, want serving", r, err)
	}
	// ...but reflection describes the API, so it needs the token.
	rc := reflectionClient(h2, url)
	if _, err := rc.ListServices(); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("reflection without token: %v, want unauthenticated", err)
	}
	_, _ = rc.Close()
	rc = reflectionClient(h2, url, "Authorization", "Bearer "+secToken)
	if names, err := rc.ListServices(); err != nil || len(names) == 0 {
		t.Errorf("reflection with token: %v %v", names, err)
	}
	_, _ = rc.Close()
}

func TestExplorerLogin(t *testing.T) {
	base := secServe(t, secHandler(t, secToken), nil)
	c := secH1(t)

	// A browser opening the explorer gets the login form, as a 401.
	resp, body := secGet(t, c, base+"/ui/", "Accept", "text/html,application/xhtml+xml")
	if resp.StatusCode != 401 || !strings.Contains(body, `action="/ui/login"`) || !strings.Contains(body, `name="token"`) {
		t.Fatalf("GET /ui/ without token: %d, want 401 with the login form:\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("login page CSP = %q", csp)
	}
	resp, body = secGet(t, c, base+"/ui/login")
	if resp.StatusCode != 200 || !strings.Contains(body, "<form") {
		t.Errorf("GET /ui/login: %d", resp.StatusCode)
	}

	login := func(tok, next string) *http.Response {
		t.Helper()
		resp, err := c.PostForm(base+"/ui/login", url.Values{"token": {tok}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 401 && !strings.Contains(string(b), "Wrong token.") {
			t.Errorf("failed login page does not say why:\n%s", b)
		}
		return resp
	}
	if resp := login("nope", ""); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %d, cookies %v; want 401 and no cookie", resp.StatusCode, resp.Cookies())
	}
	resp = login(secToken, "/ui/#account/m1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/#account/m1" {
		t.Fatalf("login: %d to %q, want 303 to /ui/#account/m1", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == serve.SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", session)
	}
	if strings.Contains(session.Value, secToken) {
		t.Error("the session cookie holds the token itself")
	}

	// The cookie opens the explorer and the API the explorer calls.
	withCookie := func(method, path, ctype, body string, ck *http.Cookie) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.AddCookie(ck)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := withCookie("GET", "/ui/", "", "", session); code != 200 {
		t.Errorf("GET /ui/ with the session: %d", code)
	}
	if code := withCookie("POST", "/rdg.v1.GraphService/GetNodes", "application/json", `{"refs":[]}`, session); code != 200 {
		t.Errorf("API with the session: %d", code)
	}
	forged := &http.Cookie{Name: serve.SessionCookie, Value: strings.Repeat("0", len(session.Value))}
	if code := withCookie("POST", "/rdg.v1.GraphService/GetNodes", "application/json", `{"refs":[]}`, forged); code != 401 {
		t.Errorf("API with a forged session: %d, want 401", code)
	}

	// Logging in cannot redirect elsewhere.
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/ui/login", "/metrics", "javascript:alert(1)"} {
		if loc := login(secToken, next).Header.Get("Location"); loc != "/ui/" {
			t.Errorf("login with next=%q redirects to %q, want /ui/", next, loc)
		}
	}

	// Logout clears the cookie.
	req, _ := http.NewRequest("POST", base+"/ui/logout", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, ck := range resp.Cookies() {
		cleared = cleared || (ck.Name == serve.SessionCookie && ck.MaxAge < 0)
	}
	if resp.StatusCode != http.StatusSeeOther || !cleared {
		t.Errorf("logout: %d, cookies %v; want 303 clearing %s", resp.StatusCode, resp.Cookies(), serve.SessionCookie)
	}
}

func TestRequireTokenRefusesEmptyToken(t *testing.T) {
	for _, tok := range []string{"", "with space", "tab\t", "ünïcode"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireToken(%q) did not panic", tok)
				}
			}()
			serve.RequireToken(tok, http.NotFoundHandler(), nil)
		}()
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := serve.ReadTokenFile(write("ok", "  abc.DEF-123\n")); err != nil || tok != "abc.DEF-123" {
		t.Errorf("ReadTokenFile = %q, %v", tok, err)
	}
	for name, content := range map[string]string{"empty": "\n \n", "spaces": "two words\n"} {
		if _, err := serve.ReadTokenFile(write(name, content)); err == nil {
			t.Errorf("token file %s: no error", name)
		}
	}
	if _, err := serve.ReadTokenFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing token file: no error")
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and its
// key as PEM files and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool = x509.NewCertPool()
	pool.AddCert(accesstest.SelfSigned(t, certFile, keyFile, cn, "127.0.0.1", "localhost"))
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir(), "rdg test")
	cfg, err := serve.TLSConfig(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := secServe(t, secHandler(t, secToken), cfg)

	// HTTP/2 over TLS (what gRPC clients and browsers use) and HTTP/1.1,
	// on the same port.
	for _, tc := range []struct {
		name  string
		proto string
		c     *http.Client
	}{
		{"h2", "HTTP/2.0", closeIdle(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}})},
		{"http1", "HTTP/1.1", closeIdle(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}})},
	} {
		resp, body := secGet(t, tc.c, base+"/metrics", "Authorization", "Bearer "+secToken)
		if resp.StatusCode != 200 || resp.Proto != tc.proto || !strings.Contains(body, "# metrics") {
			t.Errorf("%s: %d over %s, want 200 over %s", tc.name, resp.StatusCode, resp.Proto, tc.proto)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("%s: TLS state %+v", tc.name, resp.TLS)
		}
		resp, _ = secGet(t, tc.c, base+"/metrics")
		if resp.StatusCode != 401 {
			t.Errorf("%s: without token: %d, want 401", tc.name, resp.StatusCode)
		}
	}

	// A gRPC client over TLS.
	h2 := closeIdle(t, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}})
	gc := rdgv1connect.NewGraphServiceClient(h2, base, connect.WithGRPC(), bearer(secToken))
	if _, err := gc.GetNodes(context.Background(), connect.NewRequest(&rdgv1.GetNodesRequest{})); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}

	// A client that does not trust the certificate fails the handshake;
	// one speaking cleartext gets no answer from the TLS port.
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("untrusted certificate accepted")
	}
	if resp, err := secH1(t).Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("cleartext HTTP served on the TLS port")
		}
	}
}

// A renewed certificate written over the files is served without a
// restart; a broken one is not, and the previous one stays.
func TestTLSCertificateReload(t *testing.T) {
	defer serve.SetCertCheckEvery(0)()
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "first")
	cfg, err := serve.TLSConfig(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := secServe(t, secHandler(t, ""), cfg)
	servedCN := func() string {
		t.Helper()
		// Trust is beside the point here: the test reads what is served.
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if cn := servedCN(); cn != "first" {
		t.Fatalf("served %q, want first", cn)
	}
	selfSigned(t, dir, "second")
	later := time.Now().Add(time.Minute) // file times must differ even on coarse clocks
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if cn := servedCN(); cn != "second" {
		t.Errorf("after renewal served %q, want second", cn)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	if err := os.Chtimes(certFile, later, later); err != nil {
		t.Fatal(err)
	}
	if cn := servedCN(); cn != "second" {
		t.Errorf("after a broken renewal served %q, want the previous one", cn)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _ := selfSigned(t, dir, "a")
	other := t.TempDir()
	_, otherKey, _ := selfSigned(t, other, "b")
	for name, files := range map[string][2]string{
		"no key":       {certFile, ""},
		"no cert":      {"", otherKey},
		"missing file": {filepath.Join(dir, "nope.pem"), otherKey},
		"mismatched":   {certFile, otherKey},
	} {
		if _, err := serve.TLSConfig(files[0], files[1], nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
