package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
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
// token and starts a session, whose random id it sets as an HttpOnly,
// SameSite=Strict cookie (Secure over TLS) that the explorer's own requests
// then carry. SameSite=Strict keeps other sites from making requests that
// carry the cookie.
//
// Sessions live in the serving process: each expires (SessionTTL after
// login), every login starts a new one (ending the session the browser
// had), logging out ends it on the server, not only in the browser, and a
// restart (which is how the token changes) ends them all. Failed logins
// are rate-limited per client address (LoginAttempts): over the limit, a
// login is refused with 429 before the token is even looked at.
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

	// DefaultSessionTTL is how long an explorer session lasts.
	DefaultSessionTTL = 12 * time.Hour
	// maxSessions bounds the sessions kept: past it, logging in ends the
	// session closest to expiring.
	maxSessions = 10_000
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
	next     http.Handler
	token    [sha256.Size]byte // sha256 of the token: compared in constant time whatever the lengths
	log      *slog.Logger
	ttl      time.Duration
	sessions sessionStore
	limiter  loginLimiter
}

// TokenOpt configures RequireToken.
type TokenOpt func(*tokenAuth)

// SessionTTL sets how long an explorer session lasts after its login
// (DefaultSessionTTL if d <= 0).
func SessionTTL(d time.Duration) TokenOpt {
	return func(a *tokenAuth) {
		if d > 0 {
			a.ttl = d
		}
	}
}

// LoginAttempts sets the failed explorer logins one client address may
// make: burst at once, then one more each interval of every. The default
// is 5, then one every 12 seconds (5 a minute).
func LoginAttempts(burst int, every time.Duration) TokenOpt {
	return func(a *tokenAuth) {
		if burst > 0 && every > 0 {
			a.limiter.burst, a.limiter.every = burst, every
		}
	}
}

// RequireToken returns a handler that serves next only to requests that
// carry token, as a bearer token or as the explorer's session cookie, and
// answers every other request with 401 Unauthenticated in the caller's
// protocol: a gRPC status for gRPC and gRPC-Web, a Connect error (JSON) for
// Connect, the login form for a browser asking for a page, plain text
// otherwise. It also serves the explorer's /ui/login and /ui/logout.
// An empty or malformed token panics: authentication that silently lets
// everyone in is worse than none.
func RequireToken(token string, next http.Handler, log *slog.Logger, opts ...TokenOpt) http.Handler {
	if err := CheckToken(token); err != nil {
		panic("serve.RequireToken: " + err.Error())
	}
	if log == nil {
		log = slog.Default()
	}
	a := &tokenAuth{
		next:     next,
		token:    sha256.Sum256([]byte(token)),
		log:      log,
		ttl:      DefaultSessionTTL,
		sessions: sessionStore{byID: map[[sha256.Size]byte]time.Time{}},
		limiter:  loginLimiter{burst: 5, every: 12 * time.Second, byAddr: map[string]*bucket{}},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (a *tokenAuth) valid(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], a.token[:]) == 1
}

// sessionStore holds the explorer's sessions by the sha256 of their
// cookie value: a lookup by hash leaks nothing through its timing that
// would help guess a value.
type sessionStore struct {
	mu   sync.Mutex
	byID map[[sha256.Size]byte]time.Time // expiry
}

// create starts a session and returns its cookie value.
func (s *sessionStore) create(now time.Time, ttl time.Duration) string {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("serve: no randomness for a session id: " + err.Error())
	}
	v := hex.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		s.evict(now)
	}
	s.byID[sha256.Sum256([]byte(v))] = now.Add(ttl)
	return v
}

// evict drops expired sessions, or if none has expired the one closest
// to expiring; s.mu is held.
func (s *sessionStore) evict(now time.Time) {
	var (
		oldest    [sha256.Size]byte
		oldestExp time.Time
	)
	for id, exp := range s.byID {
		if !exp.After(now) {
			delete(s.byID, id)
			continue
		}
		if oldestExp.IsZero() || exp.Before(oldestExp) {
			oldest, oldestExp = id, exp
		}
	}
	if len(s.byID) >= maxSessions {
		delete(s.byID, oldest)
	}
}

func (s *sessionStore) valid(v string, now time.Time) bool {
	id := sha256.Sum256([]byte(v))
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.byID[id]
	if ok && !exp.After(now) {
		delete(s.byID, id)
		return false
	}
	return ok
}

func (s *sessionStore) revoke(v string) {
	s.mu.Lock()
	delete(s.byID, sha256.Sum256([]byte(v)))
	s.mu.Unlock()
}

// loginLimiter is a token bucket of failed logins per client address.
type loginLimiter struct {
	burst int
	every time.Duration

	mu     sync.Mutex
	byAddr map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxLimitedAddrs bounds the addresses the limiter remembers; a full
// bucket carries no information and is forgotten first.
const maxLimitedAddrs = 10_000

// refill brings b up to now; l.mu is held.
func (l *loginLimiter) refill(b *bucket, now time.Time) {
	b.tokens = min(float64(l.burst), b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
}

// allow reports whether addr may try a login now, and if not, how long
// until it may.
func (l *loginLimiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.byAddr[addr]
	if !ok {
		return true, 0
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// fail takes a token from addr's bucket.
func (l *loginLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.byAddr[addr]
	if !ok {
		if len(l.byAddr) >= maxLimitedAddrs {
			for k, ob := range l.byAddr {
				if l.refill(ob, now); ob.tokens >= float64(l.burst) {
					delete(l.byAddr, k)
				}
			}
			if len(l.byAddr) >= maxLimitedAddrs {
				// Every remembered address is limited: forget one rather
				// than grow without bound.
				for k := range l.byAddr {
					delete(l.byAddr, k)
					break
				}
			}
		}
		b = &bucket{tokens: float64(l.burst), at: now}
		l.byAddr[addr] = b
	}
	l.refill(b, now)
	b.tokens = max(b.tokens-1, 0)
}

// succeed forgets addr's failures.
func (l *loginLimiter) succeed(addr string) {
	l.mu.Lock()
	delete(l.byAddr, addr)
	l.mu.Unlock()
}

// clientAddr is the address a login is rate-limited by: the peer's IP,
// never a header the client could set.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
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
		if a.sessions.valid(c.Value, time.Now()) {
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
		addr, now := clientAddr(r), time.Now()
		if ok, wait := a.limiter.allow(addr, now); !ok {
			secs := int64(math.Ceil(wait.Seconds()))
			a.log.Warn("explorer login refused: too many failed logins from this address", "remote", r.RemoteAddr)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			a.loginPage(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins from your address: try again in %d s.", secs), next)
			return
		}
		if !a.valid(strings.TrimSpace(r.PostForm.Get("token"))) {
			a.limiter.fail(addr, now)
			a.log.Info("explorer login with a wrong token", "remote", r.RemoteAddr)
			a.loginPage(w, http.StatusUnauthorized, "Wrong token.", next)
			return
		}
		a.limiter.succeed(addr)
		// A new session for every login, so that a session id set in the
		// browser before (by whoever) does not outlive it.
		if c, err := r.Cookie(SessionCookie); err == nil {
			a.sessions.revoke(c.Value)
		}
		http.SetCookie(w, &http.Cookie{
			Name: SessionCookie, Value: a.sessions.create(now, a.ttl), Path: "/",
			MaxAge: int(a.ttl / time.Second), Expires: now.Add(a.ttl),
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
	// Ended on the server, so that a copy of the cookie is worth nothing.
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.sessions.revoke(c.Value)
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
