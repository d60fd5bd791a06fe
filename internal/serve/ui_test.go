package serve_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestExplorerAssets(t *testing.T) {
	base := secServe(t, secHandler(t, ""), nil)
	c := secH1(t)

	resp, _ := secGet(t, c, base+"/ui")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := secGet(t, c, base+"/ui/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "ETag"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("GET /ui/: no %s header", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q: scripts must come from the server only", csp)
	}
	// The CSP allows no inline style: the page has none, and carries the
	// element whose id stops cytoscape from adding a <style> of its own.
	if strings.Contains(page, "<style") || regexp.MustCompile(`\sstyle=`).MatchString(page) {
		t.Error("index.html has an inline style, which its Content-Security-Policy refuses")
	}
	if !strings.Contains(page, `id="__________cytoscape_stylesheet"`) {
		t.Error("index.html has no element with the id of cytoscape's stylesheet: cytoscape will add an inline <style> the CSP refuses")
	}
	// Everything the page loads comes from rdg itself: no CDN, no network.
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no assets")
	}
	for _, m := range refs {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		if strings.Contains(m[1], "//") {
			t.Errorf("index.html loads %q from elsewhere", m[1])
		}
		r, body := secGet(t, c, base+"/ui/"+m[1])
		if r.StatusCode != 200 || len(body) == 0 {
			t.Errorf("asset %s: %d, %d bytes", m[1], r.StatusCode, len(body))
		}
	}

	// The script is served gzipped to clients that accept it, and
	// revalidated with its ETag.
	req, _ := http.NewRequest("GET", base+"/ui/app.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	raw := &http.Client{Transport: tr}
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("app.js: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	_, plain := secGet(t, c, base+"/ui/app.js")
	if string(unzipped) != plain || len(zipped) >= len(plain) {
		t.Errorf("gzipped app.js (%d bytes) does not unzip to the plain one (%d bytes)", len(zipped), len(plain))
	}
	if !strings.Contains(plain, "cytoscape") || !strings.Contains(plain, "rdg.v1.GraphService/") {
		t.Error("app.js is not the explorer bundle")
	}
	resp, _ = secGet(t, c, base+"/ui/app.js", "If-None-Match", resp.Header.Get("ETag"), "Accept-Encoding", "gzip")
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}

	for path, want := range map[string]int{"/ui/nope.js": 404, "/ui/ui/dist/index.html": 404, "/ui/%2e%2e/go.mod": 404} {
		if r, _ := secGet(t, c, base+path); r.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, r.StatusCode, want)
		}
	}
	r, err := c.Post(base+"/ui/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d, want 405", r.StatusCode)
	}
	// Without authentication there is no login page.
	if r, _ := secGet(t, c, base+"/ui/login"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui/login without auth: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
}
