package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rdgraph/rdg/internal/api/rdgv1/rdgv1connect"
	"github.com/rdgraph/rdg/internal/demo"
	"github.com/rdgraph/rdg/internal/logtest"
	"github.com/rdgraph/rdg/internal/stack"
)

// TestExplorerInChromium drives the web explorer in headless Chromium
// through chromedriver's WebDriver API: against a stack that requires a
// token and holds the seed scenario, it logs in, searches member m-seed,
// checks the drawn neighbourhood, clicks the TV on the canvas to expand it
// (which reveals a second member who watches on the same TV), filters by
// edge type, and saves a screenshot under $RDG_ARTIFACTS (or the test's
// temporary directory).
//
// It needs Debian's chromium and chromium-driver packages and skips
// without them.
func TestExplorerInChromium(t *testing.T) {
	chromium, driver := findChromium(t)
	const token = "ui-test-token"
	st := startStackWith(t, filepath.Join(repoRoot(t), "examples", "netflix", "jobs"), func(c *stack.Config) { c.Token = token })
	produceSeedScenario(t, st, true)
	awaitSeed(t, st, token, true)

	wd := startWebDriver(t, driver, chromium)
	base := st.APIURL()

	// Without the token the explorer shows its login form.
	wd.navigate(base + "/ui/")
	if title := wd.eval(`return document.title`); !strings.Contains(fmt.Sprint(title), "log in") {
		t.Fatalf("explorer without a token: page %q, want the login form", title)
	}
	wd.sendKeys("#token", "wrong")
	wd.click("#login")
	wd.waitFor("the login page to say the token is wrong", `return !!document.getElementById("login-error")`)
	wd.sendKeys("#token", token)
	wd.click("#login")
	wd.waitFor("the explorer to load after login", `return !!window.__rdg`)
	wd.waitIdle()
	// The 401s of the login so far are expected; anything else, such as a
	// Content-Security-Policy violation while the explorer loads, is not.
	checkConsole(t, wd.browserLog(), "401")
	wd.clear("#node-type")
	wd.sendKeys("#node-type", "account")
	wd.clear("#node-id")
	wd.sendKeys("#node-id", "m-seed")
	wd.click("#search-btn")
	wd.waitIdle()
	want := []string{
		"account:m-seed", "device:d-phone", "device:d-tablet", "device:d-tv", "episode:t-seed-s1e1",
		"game:g-seed", "profile:p-seed", "title:t-seed",
	}
	if got := wd.drawnNodes(); !slices.Equal(got, want) {
		t.Fatalf("drawn after searching account m-seed:\n got %v\nwant %v", got, want)
	}
	if e := wd.eval(`return window.__rdg.lastError`); e != "" {
		t.Fatalf("explorer error: %v", e)
	}
	// A graph this small has every edge labelled with its type.
	if n, all := wd.eval(`return window.__rdg.labelledEdges()`), len(wd.drawnEdges()); n != float64(all) {
		t.Errorf("%v of %d edges labelled in a small graph, want all", n, all)
	}

	// Click the TV where it is drawn, as a person would.
	wd.clickDrawn("device:d-tv")
	wd.waitFor("device:d-tv to be expanded", `return window.__rdg.expanded().includes("device:d-tv") && !window.__rdg.busy`)
	want = append(want, "account:m-guest")
	slices.Sort(want)
	if got := wd.drawnNodes(); !slices.Equal(got, want) {
		t.Fatalf("drawn after expanding device d-tv:\n got %v\nwant %v", got, want)
	}
	edges := wd.eval(`return window.__rdg.edges()`)
	for _, e := range []string{"uses|account:m-guest|device:d-tv", "signed_in_on|profile:p-seed|device:d-tv"} {
		if !strings.Contains(fmt.Sprint(edges), e) {
			t.Errorf("edge %s not drawn after expanding d-tv: %v", e, edges)
		}
	}
	if sel := wd.text("#details .title"); sel != "device:d-tv" {
		t.Errorf("details panel shows %q, want device:d-tv", sel)
	}

	// Filtering out "watched" hides the title and the episode.
	wd.click(`input[data-edge-type="watched"]`)
	got := wd.drawnNodes()
	if slices.Contains(got, "title:t-seed") || slices.Contains(got, "episode:t-seed-s1e1") || !slices.Contains(got, "game:g-seed") {
		t.Errorf("with watched filtered out, drawn: %v", got)
	}
	wd.click(`input[data-edge-type="watched"]`)
	if got := wd.drawnNodes(); !slices.Equal(got, want) {
		t.Errorf("with the filter cleared, drawn %v, want %v", got, want)
	}

	wd.eval(`document.getElementById("fit").click()`)
	wd.saveScreenshot("explorer-m-seed.png")

	checkConsole(t, wd.browserLog(), "")
}

// checkConsole fails the test for every console message of level warning
// or above (a CSP violation is one), except those containing allow when it
// is not empty.
func checkConsole(t *testing.T, log []logEntry, allow string) {
	t.Helper()
	for _, l := range log {
		if allow != "" && strings.Contains(l.Message, allow) {
			continue
		}
		if l.Level == "SEVERE" || l.Level == "WARNING" || strings.Contains(l.Message, "Content Security Policy") {
			t.Errorf("browser console: %s: %s", l.Level, l.Message)
		}
	}
}

// findChromium returns the paths of chromium and chromedriver, or skips.
func findChromium(t *testing.T) (chromium, driver string) {
	t.Helper()
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Skip("chromedriver not found: the explorer test needs Debian's chromium and chromium-driver packages (apt-get install chromium chromium-driver; .ci/run installs them)")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, driver
		}
	}
	t.Skip("chromium not found: the explorer test needs Debian's chromium and chromium-driver packages (apt-get install chromium chromium-driver; .ci/run installs them)")
	return "", ""
}

// startStackWith is startStack with a chance to change the configuration
// (a token, TLS) before the stack starts.
func startStackWith(t *testing.T, jobsDir string, mod func(*stack.Config)) *testStack {
	t.Helper()
	jobs, err := stack.LoadJobs(jobsDir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	cfg := stack.Config{
		BeforeJobs:      produceCatalog,
		DataDir:         t.TempDir(),
		KafkaAddr:       "127.0.0.1:0",
		RegistryAddr:    "127.0.0.1:0",
		APIAddr:         "127.0.0.1:0",
		Jobs:            jobs,
		GraphPartitions: 3,
		Logger:          slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	mod(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("stack close: %v", err)
		}
	})
	return &testStack{Stack: st, logs: logs, api: rdgv1connect.NewGraphServiceClient(http.DefaultClient, st.APIURL())}
}

// produceSeedScenario produces the seed's story (see TestSeedScenario):
// member m-seed (profile p-seed) on a phone, a TV and a tablet, an episode
// of t-seed watched on the phone and continued on the TV, and game g-seed
// on the tablet. With guest, a second member, m-guest, also signs in on
// the TV, so that expanding the TV reveals someone new.
func produceSeedScenario(t *testing.T, st *testStack, guest bool) {
	t.Helper()
	cl := st.producer(t)
	if err := demo.EnsureTopics(context.Background(), kadm.NewClient(cl), 3); err != nil {
		t.Fatal(err)
	}
	p := newAvroProducer(t, cl, st.Registry())
	const m, prof = "m-seed", "p-seed"
	ep := "t-seed-s1e1"
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	login := func(s int, member, profile, dev, typ string) {
		p.produce(demo.TopicLogins, demo.LoginSchema, member, &demo.Login{EventID: "e-login-" + member + dev, EventTs: at(s),
			MemberID: member, ProfileID: profile, DeviceID: dev, DeviceType: typ, Country: "NL"})
	}
	play := func(s int, dev string, pos int64) {
		p.produce(demo.TopicPlayback, demo.PlaybackSchema, m, &demo.Playback{EventID: "e-play-" + dev, EventTs: at(s),
			MemberID: m, ProfileID: prof, DeviceID: dev, TitleID: "t-seed", EpisodeID: &ep, PositionMs: pos, EventType: demo.PlayStart})
	}
	login(0, m, prof, "d-phone", "phone")
	play(1, "d-phone", 0)
	login(60, m, prof, "d-tv", "tv")
	play(61, "d-tv", 754_000)
	login(120, m, prof, "d-tablet", "tablet")
	p.produce(demo.TopicGames, demo.GameSchema, m, &demo.Game{EventID: "e-game", EventTs: at(121),
		MemberID: m, ProfileID: prof, DeviceID: "d-tablet", GameID: "g-seed", EventType: demo.GameLaunch})
	if guest {
		login(90, "m-guest", "", "d-tv", "tv")
	}
}

// awaitSeed waits until the whole scenario has reached the store: a
// traversal (called with token) from account m-seed, and with guest from
// m-guest too, reaches everything the scenario made.
func awaitSeed(t *testing.T, st *testStack, token string, guest bool) {
	t.Helper()
	start := `{"type":"account","id":"m-seed"}`
	want := slices.Clone(seedFromAccount)
	if guest {
		start += `,{"type":"account","id":"m-guest"}`
		want = append(want, "account:m-guest")
		slices.Sort(want)
	}
	body := `{"start":[` + start + `],"steps":[{"direction":"DIRECTION_OUT"}]}`
	await(t, 10*time.Second, func() (bool, string) {
		req, _ := http.NewRequest("POST", st.APIURL()+"/"+rdgv1connect.GraphServiceName+"/Traverse", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r traverseResult
		if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 {
			return false, fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
		got := r.refs()
		return slices.Equal(got, want), fmt.Sprintf("traversal reached %v, want %v", got, want)
	})
}

// A minimal WebDriver client (W3C WebDriver over HTTP), enough for one
// test: no dependency beyond chromedriver itself.
type webDriver struct {
	t       *testing.T
	base    string // chromedriver's URL
	session string
}

func startWebDriver(t *testing.T, driver, chromium string) *webDriver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logFile := filepath.Join(t.TempDir(), "chromedriver.log")
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port), "--log-path="+logFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	wd := &webDriver{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	await(t, 20*time.Second, func() (bool, string) {
		var st struct {
			Ready bool `json:"ready"`
		}
		err := wd.call("GET", "/status", nil, &st)
		return err == nil && st.Ready, fmt.Sprintf("chromedriver not ready: %v", err)
	})
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir=" + t.TempDir(),
	}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	err = wd.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
		"goog:loggingPrefs":  map[string]any{"browser": "ALL"},
	}}}, &sess)
	if err != nil {
		log, _ := os.ReadFile(logFile)
		t.Fatalf("starting Chromium through chromedriver: %v\nchromedriver log:\n%s", err, tailBytes(log, 4000))
	}
	wd.session = sess.SessionID
	t.Cleanup(func() { _ = wd.call("DELETE", "/session/"+wd.session, nil, nil) })
	return wd
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// call sends a WebDriver command and decodes its "value" into out.
func (wd *webDriver) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, wd.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if resp.StatusCode != 200 {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %s: %s", method, path, e.Error, e.Message)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func (wd *webDriver) do(method, path string, in, out any) {
	wd.t.Helper()
	if err := wd.call(method, "/session/"+wd.session+path, in, out); err != nil {
		wd.t.Fatal(err)
	}
}

func (wd *webDriver) navigate(url string) { wd.do("POST", "/url", map[string]string{"url": url}, nil) }

// eval runs a script body in the page and returns its result.
func (wd *webDriver) eval(script string, args ...any) any {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	var v any
	wd.do("POST", "/execute/sync", map[string]any{"script": script, "args": args}, &v)
	return v
}

func (wd *webDriver) element(css string) string {
	wd.t.Helper()
	var el map[string]string
	wd.do("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
	for _, id := range el { // the key is the W3C element identifier
		return id
	}
	wd.t.Fatalf("no element %s", css)
	return ""
}

func (wd *webDriver) click(css string) {
	wd.t.Helper()
	wd.do("POST", "/element/"+wd.element(css)+"/click", map[string]any{}, nil)
}

func (wd *webDriver) clear(css string) {
	wd.t.Helper()
	wd.do("POST", "/element/"+wd.element(css)+"/clear", map[string]any{}, nil)
}

func (wd *webDriver) sendKeys(css, text string) {
	wd.t.Helper()
	wd.do("POST", "/element/"+wd.element(css)+"/value", map[string]string{"text": text}, nil)
}

func (wd *webDriver) text(css string) string {
	wd.t.Helper()
	var s string
	wd.do("GET", "/element/"+wd.element(css)+"/text", nil, &s)
	return s
}

// clickAt moves the mouse to viewport coordinates and clicks there.
func (wd *webDriver) clickAt(x, y int) {
	wd.t.Helper()
	wd.do("POST", "/actions", map[string]any{"actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []any{
			map[string]any{"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y},
			map[string]any{"type": "pointerDown", "button": 0},
			map[string]any{"type": "pause", "duration": 50},
			map[string]any{"type": "pointerUp", "button": 0},
		},
	}}}, nil)
	wd.do("DELETE", "/actions", nil, nil)
}

// waitFor polls a script until it returns true.
func (wd *webDriver) waitFor(what, script string) {
	wd.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var v any
		err := wd.call("POST", "/session/"+wd.session+"/execute/sync", map[string]any{"script": script, "args": []any{}}, &v)
		if err == nil && v == true {
			return
		}
		if time.Now().After(deadline) {
			wd.t.Fatalf("waiting for %s: last result %v, %v (page error: %v)", what, v, err, wd.eval(`return window.__rdg ? window.__rdg.lastError : document.title`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIdle waits until the explorer has no request or layout running.
func (wd *webDriver) waitIdle() {
	wd.t.Helper()
	wd.waitFor("the explorer to be idle", `return document.getElementById("graph").dataset.busy === "0"`)
}

// drawnNodes is the page's list of visible nodes, "type:id", sorted.
func (wd *webDriver) drawnNodes() []string {
	wd.t.Helper()
	s := fmt.Sprint(wd.eval(`return document.getElementById("graph").dataset.nodes`))
	return strings.Fields(s)
}

// drawnEdges is the page's list of drawn edges (group edges aside).
func (wd *webDriver) drawnEdges() []string {
	wd.t.Helper()
	return strings.Fields(fmt.Sprint(wd.eval(`return document.getElementById("graph").dataset.edges`)))
}

// clickDrawn clicks where the page draws an element, as a person would.
func (wd *webDriver) clickDrawn(key string) {
	wd.t.Helper()
	x, y := wd.drawnAt(key)
	wd.clickAt(x, y)
}

// drawnAt is where in the viewport the page draws an element.
func (wd *webDriver) drawnAt(key string) (x, y int) {
	wd.t.Helper()
	pos, ok := wd.eval(`const p = window.__rdg.renderedPosition(arguments[0]);
		if (!p) return null;
		const r = document.getElementById("graph").getBoundingClientRect();
		return {x: Math.round(r.left + p.x), y: Math.round(r.top + p.y)};`, key).(map[string]any)
	if !ok {
		wd.t.Fatalf("%s is not drawn", key)
	}
	return int(pos["x"].(float64)), int(pos["y"].(float64))
}

// moveTo moves the mouse to viewport coordinates.
func (wd *webDriver) moveTo(x, y int) {
	wd.t.Helper()
	wd.do("POST", "/actions", map[string]any{"actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []any{map[string]any{"type": "pointerMove", "duration": 0, "origin": "viewport", "x": x, "y": y}},
	}}}, nil)
}

// saveScreenshot writes a screenshot to $RDG_ARTIFACTS (or the test's
// temporary directory) and logs where.
func (wd *webDriver) saveScreenshot(name string) string {
	wd.t.Helper()
	shot := wd.screenshot()
	dir := os.Getenv("RDG_ARTIFACTS")
	if dir == "" {
		dir = wd.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		wd.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		wd.t.Fatal(err)
	}
	wd.t.Logf("screenshot: %s", path)
	return path
}

func (wd *webDriver) screenshot() []byte {
	wd.t.Helper()
	var b64 string
	wd.do("GET", "/screenshot", nil, &b64)
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		wd.t.Fatal(err)
	}
	return b
}

type logEntry struct{ Level, Message string }

// browserLog returns the console messages so far (chromedriver's log
// extension; nil if it is not available).
func (wd *webDriver) browserLog() []logEntry {
	var out []logEntry
	if err := wd.call("POST", "/session/"+wd.session+"/se/log", map[string]string{"type": "browser"}, &out); err != nil {
		wd.t.Logf("browser log not available: %v", err)
	}
	return out
}
