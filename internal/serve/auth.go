package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bearer-token authentication.
//
// RequireToken protects everything it wraps with one shared secret, sent as
// "Authorization: Bearer <token>" by API clients (curl, grpcurl -H, rdg
// query, a gRPC stub). A browser has no way to add that header to a page
// load, so the web explorer logs in once at /ui/login: the server checks the
// token and sets an HttpOnly, SameSite=Strict cookie holding a value derived
// from it (not the token itself), which the explorer's own requests then
// carry. SameSite=Strict keeps other sites from making requests that carry
// the cookie.
//
// Open without a token: /healthz and /readyz (probes carry no secrets) and
// the gRPC health service, for the same reason; /ui/login, which is where a
// token is entered. Everything else, /metrics included, needs the token.

const (
	// SessionCookie is the cookie the explorer's login sets.
	SessionCookie = "rdg_session"
	loginPath     = "/ui/login"
	logoutPath    = "/ui/logout"
	// healthPrefix is the gRPC health service's path prefix.
	healthPrefix = "/grpc.health.v1.Health/"
)

// openPaths need no token.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true}

// ReadTokenFile reads a token from a file, as `rdg up --token-file` does:
// surrounding white space (a trailing newline) is ignored, and an empty
// file is an error rather than an open server.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	if err := CheckToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return tok, nil
}

// CheckToken refuses tokens that cannot be sent in an HTTP header.
func CheckToken(tok string) error {
	if tok == "" {
		return errors.New("empty token")
	}
	for _, r := range tok {
		if r <= ' ' || r > '~' {
			return errors.New("token must be printable ASCII without spaces")
		}
	}
	return nil
}

type tokenAuth struct {
	next    http.Handler
	token   [sha256.Size]byte // sha256 of the token: compared in constant time whatever the lengths
	session string            // the cookie value
	log     *slog.Logger
}

// RequireToken returns a handler that serves next only to requests that
// carry token, as a bearer token or as the explorer's session cookie, and
// answers every other request with 401 Unauthenticated in the caller's
// protocol: a gRPC status for gRPC and gRPC-Web, a Connect error (JSON) for
// Connect, the login form for a browser asking for a page, plain text
// otherwise. It also serves the explorer's /ui/login and /ui/logout.
// An empty or malformed token panics: authentication that silently lets
// everyone in is worse than none.
func RequireToken(token string, next http.Handler, log *slog.Logger) http.Handler {
	if err := CheckToken(token); err != nil {
		panic("serve.RequireToken: " + err.Error())
	}
	if log == nil {
		log = slog.Default()
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("rdg explorer session v1"))
	return &tokenAuth{
		next:    next,
		token:   sha256.Sum256([]byte(token)),
		session: hex.EncodeToString(mac.Sum(nil)),
		log:     log,
	}
}

func (a *tokenAuth) valid(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], a.token[:]) == 1
}

func (a *tokenAuth) validSession(v string) bool {
	return subtle.ConstantTimeCompare([]byte(v), []byte(a.session)) == 1
}

func (a *tokenAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case openPaths[p] || strings.HasPrefix(p, healthPrefix):
		a.next.ServeHTTP(w, r)
		return
	case p == loginPath:
		a.login(w, r)
		return
	case p == logoutPath:
		a.logout(w, r)
		return
	}
	why := a.check(r)
	if why == "" {
		a.next.ServeHTTP(w, r)
		return
	}
	a.log.Debug("unauthenticated request", "path", p, "remote", r.RemoteAddr, "why", why)
	a.deny(w, r, why)
}

// check returns "" if r is authenticated, else why not.
func (a *tokenAuth) check(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "the Authorization header must be \"Bearer <token>\""
		}
		if !a.valid(strings.TrimSpace(tok)) {
			return "invalid bearer token"
		}
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		if a.validSession(c.Value) {
			return ""
		}
		return "session expired or invalid: log in again at " + loginPath
	}
	return "missing bearer token: send the header \"Authorization: Bearer <token>\" (the token rdg was started with, --token or --token-file)"
}

// deny answers 401 in the protocol the client speaks.
func (a *tokenAuth) deny(w http.ResponseWriter, r *http.Request, why string) {
	msg := "unauthenticated: " + why
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/grpc"):
		// gRPC and gRPC-Web: a trailers-only response, so that the client
		// reports code Unauthenticated with the message instead of an
		// unexpected HTTP status.
		ctOut := "application/grpc"
		if strings.HasPrefix(ct, "application/grpc-web") {
			ctOut = ct
		}
		w.Header().Set("Content-Type", ctOut)
		w.Header().Set("Grpc-Status", "16")
		w.Header().Set("Grpc-Message", grpcPercentEncode(msg))
		w.WriteHeader(http.StatusOK)
		return
	case strings.HasPrefix(ct, "application/json"), strings.HasPrefix(ct, "application/proto"),
		strings.HasPrefix(ct, "application/connect"), r.URL.Query().Get("connect") != "":
		// Connect: the error JSON that Connect clients decode.
		w.Header().Set("WWW-Authenticate", `Bearer realm="rdg"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "unauthenticated", "message": msg})
		return
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/ui") &&
		strings.Contains(r.Header.Get("Accept"), "text/html"):
		// A browser opening the explorer: the login form, still a 401.
		a.loginPage(w, http.StatusUnauthorized, "", r.URL.Path)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="rdg"`)
	http.Error(w, "401 "+msg, http.StatusUnauthorized)
}

func (a *tokenAuth) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a.loginPage(w, http.StatusOK, "", r.URL.Query().Get("next"))
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad login form: "+err.Error(), http.StatusBadRequest)
			return
		}
		next := r.PostForm.Get("next")
		if !a.valid(strings.TrimSpace(r.PostForm.Get("token"))) {
			a.log.Info("explorer login with a wrong token", "remote", r.RemoteAddr)
			a.loginPage(w, http.StatusUnauthorized, "Wrong token.", next)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: SessionCookie, Value: a.session, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		})
		http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (a *tokenAuth) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed: POST to log out", http.StatusMethodNotAllowed)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

// safeNext keeps the post-login redirect inside the explorer, so that the
// login form cannot be used to send a user elsewhere.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(u.Path, "/ui/") || strings.HasPrefix(u.Path, loginPath) || strings.Contains(u.Path, "//") {
		return "/ui/"
	}
	// Path, query and fragment: the explorer keeps the node it shows in
	// the fragment (#type/id).
	return (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery, Fragment: u.Fragment, RawFragment: u.RawFragment}).String()
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rdg explorer · log in</title>
<link rel="icon" href="data:,">
<style>
body{font:15px system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:flex;min-height:90vh;align-items:center;justify-content:center}
form{background:#fff;padding:24px 28px;border-radius:8px;box-shadow:0 1px 4px #0002;width:320px}
h1{font-size:18px;margin:0 0 12px}p{margin:0 0 12px;color:#556}
input[type=password]{width:100%;box-sizing:border-box;padding:8px;margin:4px 0 12px;border:1px solid #ccd;border-radius:4px}
button{padding:8px 14px;border:0;border-radius:4px;background:#2f6fde;color:#fff;font-weight:600;cursor:pointer}
.err{color:#b00020;font-weight:600}
</style></head>
<body><form method="post" action="/ui/login">
<h1>rdg explorer</h1>
<p>This server requires a token: the one rdg was started with (<code>--token</code> or <code>--token-file</code>).</p>
{{if .Error}}<p class="err" id="login-error">{{.Error}}</p>{{end}}
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{{.Next}}">
<button type="submit" id="login">Log in</button>
</form></body></html>
`))

func (a *tokenAuth) loginPage(w http.ResponseWriter, status int, errMsg, next string) {
	setPageHeaders(w.Header(), true)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rdg"`)
	}
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, struct{ Error, Next string }{errMsg, safeNext(next)})
}

// grpcPercentEncode encodes a grpc-message header value as the gRPC
// specification requires: printable ASCII except '%' as is, the rest as
// %XX of its UTF-8 bytes.
func grpcPercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TLS.

// TLSConfig returns a server TLS configuration for the PEM certificate
// (chain) and key in certFile and keyFile, offering HTTP/2 and HTTP/1.1 by
// ALPN, TLS 1.2 or later. The files are read now, so that a bad path or a
// mismatched pair fails at start; after that they are checked again at most
// every few seconds during handshakes and reloaded when they change, so
// that a renewed certificate is picked up without a restart. A reload that
// fails keeps the previous certificate and is logged.
func TLSConfig(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")
	}
	if log == nil {
		log = slog.Default()
	}
	k := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := k.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: k.get,
	}, nil
}

type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time // the later of the two files' modification times
	checked time.Time
}

// certCheckEvery is how often handshakes look at the files' times (a
// time.Duration); a variable for tests.
var certCheckEvery atomic.Int64

func init() { certCheckEvery.Store(int64(5 * time.Second)) }

func (k *certReloader) mtime() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{k.certFile, k.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest, nil
}

// load reads the pair; the caller holds mu or is the constructor.
func (k *certReloader) load() error {
	mt, err := k.mtime()
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", k.certFile, k.keyFile, err)
	}
	k.cert, k.modTime, k.checked = &c, mt, time.Now()
	return nil
}

func (k *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.checked) >= time.Duration(certCheckEvery.Load()) {
		k.checked = time.Now()
		if mt, err := k.mtime(); err == nil && !mt.Equal(k.modTime) {
			if err := k.load(); err != nil {
				k.log.Error("reloading TLS certificate failed; keeping the previous one", "err", err)
			} else {
				k.log.Info("TLS certificate reloaded", "cert", k.certFile)
			}
		}
	}
	return k.cert, nil
}
