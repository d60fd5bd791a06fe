package e2e

// The documentation tests' shared part: reading the README's fenced blocks
// and the Examples: sections of `rdg <command> --help`, splitting them into
// commands, and running those commands as a user would, in a shell, with a
// freshly built rdg first on PATH.
//
// The conventions the README and the --help texts follow, so that these
// tests can run them:
//
//   - A ```sh block is commands, run in order; `#` comments, `\`
//     continuations and heredocs (`cat > f <<'EOF'` ... `EOF`) are allowed.
//     A ```text block straight after a ```sh block (only blank lines
//     between them) is the output of that
//     block's last command: each of its lines must appear in that order
//     among the command's output lines (runs of spaces count as one, and
//     `...` in a line matches any text).
//   - A block that cannot run against a local stack (an external cluster,
//     TLS files, a download, Node.js) is preceded by the line
//     `<!-- doctest: skip: <reason> -->`.
//   - `go run ./cmd/rdg` is read as `rdg` (the test's rdg is built from the
//     same source); `go install ./cmd/rdg` runs at the repository root into
//     a GOBIN of the test's own; `go test` lines are not run (they are what
//     runs the tests).
//   - In --help texts, where no marker can go, an example naming another
//     host than 127.0.0.1 (kafka1:9092, http://registry:8081), an https://
//     address or a credentials or TLS file, or holding a <placeholder>, is
//     not run; the test logs each one it leaves out and why.
//   - Commands that run until stopped (rdg up, rdg job run, rdg writer run)
//     are started, awaited ready (/readyz at their --api-addr) or alive for
//     a few seconds, and stopped with SIGTERM, after which they must exit
//     with status 0. Any other command must end within a minute.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// docBlock is one fenced block of the README.
type docBlock struct {
	section string // the nearest level-2 heading above it
	line    int    // of the opening fence, 1-based
	lang    string
	text    string
	skip    string // the reason of a doctest: skip marker before it
	// adjoins is true when only blank lines separate it from the block
	// before it: a ```text block is that block's output only then.
	adjoins bool
}

var skipMarker = regexp.MustCompile(`^<!--\s*doctest:\s*skip:\s*(.*?)\s*-->$`)

// readmeBlocks reads every fenced block of the repository's README.md.
func readmeBlocks(t testing.TB) []docBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return parseBlocks(string(b))
}

func parseBlocks(doc string) []docBlock {
	var out []docBlock
	var cur *docBlock
	section, lastText := "", ""
	prose := true // text since the last block ended
	for i, line := range strings.Split(doc, "\n") {
		if cur != nil {
			if strings.TrimSpace(line) == "```" {
				out = append(out, *cur)
				cur = nil
				prose = false
				continue
			}
			cur.text += line + "\n"
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "```"):
			cur = &docBlock{section: section, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(line, "```")), adjoins: !prose}
			if m := skipMarker.FindStringSubmatch(lastText); m != nil {
				cur.skip = m[1]
			}
		case strings.HasPrefix(line, "## "):
			section = strings.TrimSpace(strings.TrimPrefix(line, "## "))
		}
		if trimmed != "" {
			lastText = trimmed
			if cur == nil {
				prose = true
			}
		}
	}
	return out
}

// docCommand is one command of a block or an Examples: section.
type docCommand struct {
	where string // README.md:LINE or `rdg x --help`
	text  string // as written, continuations and heredoc included
	want  string // expected output (a following ```text block), if any
}

// heredocStart finds `<<'EOF'`, `<<"EOF"`, `<<EOF` or `<<-EOF`.
var heredocStart = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// splitCommands splits shell text into commands: one per line, with `\`
// continuations and heredocs kept with the line that starts them; blank and
// comment-only lines are dropped.
func splitCommands(text string, firstLine int, file string) []docCommand {
	var out []docCommand
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		line := lines[i]
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		cmd := line
		for strings.HasSuffix(strings.TrimRight(cmd, " "), "\\") && i+1 < len(lines) {
			i++
			cmd += "\n" + lines[i]
		}
		if m := heredocStart.FindStringSubmatch(cmd); m != nil {
			for i+1 < len(lines) {
				i++
				cmd += "\n" + lines[i]
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		}
		out = append(out, docCommand{where: fmt.Sprintf("%s:%d", file, firstLine+1+start), text: cmd})
	}
	return out
}

// blockCommands turns README blocks into commands, attaching each ```text
// block to the last command of the ```sh block straight before it (blank
// lines between them at most). Blocks marked skip are left out.
func blockCommands(blocks []docBlock) []docCommand {
	var out []docCommand
	for i, b := range blocks {
		if b.lang != "sh" || b.skip != "" {
			continue
		}
		cmds := splitCommands(b.text, b.line, "README.md")
		if i+1 < len(blocks) && blocks[i+1].lang == "text" && blocks[i+1].adjoins && len(cmds) > 0 {
			cmds[len(cmds)-1].want = blocks[i+1].text
		}
		out = append(out, cmds...)
	}
	return out
}

// normalise reads `go run ./cmd/rdg` in cmd as `rdg`.
func normalise(cmd string) string {
	return strings.ReplaceAll(cmd, "go run ./cmd/rdg ", "rdg ")
}

// longRunning says whether cmd runs until it is stopped.
func longRunning(cmd string) bool {
	f := strings.Fields(normalise(cmd))
	if len(f) < 2 || f[0] != "rdg" {
		return false
	}
	switch {
	case f[1] == "up":
		return true
	case len(f) > 2 && f[1] == "job" && f[2] == "run", len(f) > 2 && f[1] == "writer" && f[2] == "run":
		return true
	}
	return false
}

// apiAddrOf is the --api-addr a long-running command serves /readyz on,
// "" if it serves none the test can find.
func apiAddrOf(cmd string) string {
	f := strings.Fields(normalise(cmd))
	for i, w := range f {
		if w == "--api-addr" && i+1 < len(f) {
			return f[i+1]
		}
		if v, ok := strings.CutPrefix(w, "--api-addr="); ok {
			return v
		}
	}
	if f[1] == "up" && !strings.Contains(cmd, "--no-writer") || f[1] == "writer" {
		return "127.0.0.1:8080"
	}
	return ""
}

var (
	placeholder  = regexp.MustCompile(`<[a-z][^<>|]*>`)
	externalHost = regexp.MustCompile(`(?:^|[\s=/,])([A-Za-z][A-Za-z0-9.-]*):\d+`)
	secretFlag   = regexp.MustCompile(`--(?:credentials-file|tls-cert|tls-key|ca-file|kafka-ca-file|registry-ca-file|kafka-credentials-file|registry-credentials-file|kafka-cert-file|registry-cert-file|token-file)\b`)
)

// helpSkip is why a --help example cannot run against the local demo
// stack, or "" if it can.
func helpSkip(cmd string) string {
	switch {
	case placeholder.MatchString(cmd):
		return "holds a placeholder"
	case strings.Contains(cmd, "https://"), secretFlag.MatchString(cmd):
		return "needs TLS or credentials files"
	}
	for _, m := range externalHost.FindAllStringSubmatch(cmd, -1) {
		if m[1] != "localhost" {
			return "names an external host (" + m[1] + ")"
		}
	}
	return ""
}

// emptyAnswers are how rdg's commands say they found nothing: an example
// that answers like this shows the reader nothing.
var emptyAnswers = regexp.MustCompile(`(?m)^0 neighbours|\b0 edges$|\(not found\)|^no path found|^no dead letters|(?:would replay|replayed) 0, still failing 0|^nothing new since the last replay`)

// emptyAnswer says why out, a command's output (standard output, then
// standard error, where rdg produce and rdg generate report), is an empty
// answer, or "".
func emptyAnswer(cmd, out string) string {
	trimmed := strings.TrimSpace(out)
	if trimmed == "" {
		return "no output"
	}
	if m := emptyAnswers.FindString(out); m != "" {
		return fmt.Sprintf("answers %q", m)
	}
	if !strings.HasPrefix(trimmed, "{") && !strings.HasPrefix(trimmed, "[") {
		return ""
	}
	// A JSON answer (curl, --json): the API omits empty fields.
	var v any
	if json.Unmarshal([]byte(trimmed), &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case []any:
		if len(v) == 0 {
			return "an empty JSON array"
		}
	case map[string]any:
		if len(v) == 0 {
			return "an empty JSON object"
		}
		if m, ok := v["missing"].([]any); ok && len(m) > 0 {
			return "nodes missing: " + fmt.Sprint(m)
		}
		if _, ok := v["nodes"]; ok && (strings.Contains(cmd, "Traverse") || strings.Contains(cmd, "ConnectedGroup") || strings.Contains(cmd, " traverse ") || strings.Contains(cmd, " group ")) {
			if e, _ := v["edges"].([]any); len(e) == 0 {
				return "a traversal with no edges"
			}
		}
		if strings.Contains(cmd, "Neighbors") || strings.Contains(cmd, " neighbors ") {
			if n, _ := v["neighbors"].([]any); len(n) == 0 {
				return "no neighbours"
			}
		}
	}
	return ""
}

// warned is a warning rdg printed on standard error (an unknown node or
// edge type, say): an example that draws one is wrong.
var warned = regexp.MustCompile(`(?mi)^warning\b|level=WARN`)

// docEnv runs commands in dir with bin first on PATH.
type docEnv struct {
	dir string
	env []string
}

func newDocEnv(t *testing.T, dir string) *docEnv {
	bin := filepath.Dir(rdgBinary(t))
	return &docEnv{dir: dir, env: append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))}
}

func (e *docEnv) command(ctx context.Context, cmd string) *exec.Cmd {
	c := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+normalise(cmd))
	c.Dir, c.Env = e.dir, e.env
	// The shell's children (rdg after a pipe) go with it.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	return c
}

// run runs cmd to its end within timeout and returns its standard output
// and error.
func (e *docEnv) run(cmd string, timeout time.Duration) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := e.command(ctx, cmd)
	var o, s strings.Builder
	c.Stdout, c.Stderr = &o, &s
	err = c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %s", timeout)
	}
	return o.String(), s.String(), err
}

// start starts a long-running cmd; the test's end stops it if it has not.
func (e *docEnv) start(t *testing.T, name, cmd string) *proc {
	t.Helper()
	c := e.command(context.Background(), cmd)
	c.Cancel = nil
	addr := apiAddrOf(cmd)
	return startCmd(t, name, addr, c)
}

// stop sends SIGTERM to a long-running command's process group and expects
// a clean exit.
func stopGroup(t *testing.T, p *proc) {
	t.Helper()
	p.killed = true
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, p.err)
		}
	case <-time.After(45 * time.Second):
		t.Errorf("%s did not stop within 45s of SIGTERM", p.name)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// awaitUp waits until a long-running command is ready: /readyz answers 200
// on its API address, or, for one without, it is still alive after a few
// seconds.
func awaitUp(t *testing.T, p *proc, timeout time.Duration) {
	t.Helper()
	if p.apiURL == "http://" {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			p.alive(t)
			time.Sleep(50 * time.Millisecond)
		}
		p.alive(t)
		return
	}
	await(t, timeout, func() (bool, string) {
		p.alive(t)
		resp, err := http.Get(p.apiURL + "/readyz")
		if err != nil {
			return false, p.name + ": " + err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, p.name + ": " + resp.Status
	})
}

// defaultAddrs are where a user's rdg listens when they give no flags.
var defaultAddrs = []string{"127.0.0.1:9092", "127.0.0.1:8081", "127.0.0.1:8080"}

// requireDefaultPorts fails the test unless the default addresses are free:
// the README's commands use them, as a new user's do.
func requireDefaultPorts(t *testing.T) {
	t.Helper()
	for _, a := range defaultAddrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is taken (%v): this test runs the README's commands on rdg's default addresses, so nothing else (another rdg up?) may listen there", a, err)
		}
		ln.Close()
	}
}

// matchOutput says where got, a command's output, fails to show want, an
// expected-output block: want's lines must appear in order among got's,
// runs of white space counting as one and `...` matching any text.
func matchOutput(got, want string) error {
	var gotLines []string
	sc := bufio.NewScanner(strings.NewReader(got))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		gotLines = append(gotLines, strings.Join(strings.Fields(sc.Text()), " "))
	}
	i := 0
	for _, w := range strings.Split(strings.TrimRight(want, "\n"), "\n") {
		w = strings.Join(strings.Fields(w), " ")
		if w == "" {
			continue
		}
		parts := strings.Split(w, "...")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for i < len(gotLines) && !re.MatchString(gotLines[i]) {
			i++
		}
		if i == len(gotLines) {
			return fmt.Errorf("no line %q (in order) in the output", w)
		}
		i++
	}
	return nil
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logTailOf is the end of a command's output, for failure messages.
func logTailOf(s string) string {
	if len(s) > 4000 {
		return "...\n" + s[len(s)-4000:]
	}
	return s
}

// TestREADMEBlocksParse checks, without a stack, what the documentation
// tests rely on: every runnable ```sh block of the README is valid shell
// (bash -n), splits into commands, and the walk-through section exists.
func TestREADMEBlocksParse(t *testing.T) {
	own := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "sh" || b.skip != "" {
			continue
		}
		c := exec.Command("bash", "-n")
		c.Stdin = strings.NewReader(b.text)
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("README.md:%d: not valid shell: %v\n%s", b.line, err, out)
		}
		cmds := splitCommands(b.text, b.line, "README.md")
		if len(cmds) == 0 {
			t.Errorf("README.md:%d: a ```sh block with no command", b.line)
		}
		if b.section == ownEventsSection {
			own += len(cmds)
		}
	}
	if own < 10 {
		t.Errorf("the README's %q section has %d commands", ownEventsSection, own)
	}
	got := splitCommands("# c\nrdg a \\\n  --b\ncat > f <<'EOF'\nx \\\nEOF\nrdg c # d\n", 10, "R")
	if len(got) != 3 || got[0].where != "R:12" || got[1].text != "cat > f <<'EOF'\nx \\\nEOF" || got[2].where != "R:17" {
		t.Errorf("splitCommands: %q", got)
	}
	for cmd, want := range map[string]bool{
		"rdg up --jobs x": true, "go run ./cmd/rdg up --demo": true, "rdg job run --jobs j": true,
		"rdg generate --duration 10s": false, "rdg query stats": false,
	} {
		if longRunning(cmd) != want {
			t.Errorf("longRunning(%q) = %v", cmd, !want)
		}
	}
	for cmd, skip := range map[string]bool{
		"rdg up --brokers kafka1:9092": true, "rdg generate --registry https://127.0.0.1:8081": true,
		"rdg query neighbors x --cursor <next cursor>": true, "rdg query stats --server http://127.0.0.1:8080": false,
		"rdg writer run --brokers 127.0.0.1:9092 --api-addr 127.0.0.1:8090": false,
	} {
		if (helpSkip(cmd) != "") != skip {
			t.Errorf("helpSkip(%q) = %q", cmd, helpSkip(cmd))
		}
	}
	if err := matchOutput("a  b\nc 12 d\ne\n", "a b\nc ... d\n"); err != nil {
		t.Error(err)
	}
	if err := matchOutput("a\nb\n", "b\na\n"); err == nil {
		t.Error("matchOutput accepts lines out of order")
	}
}
