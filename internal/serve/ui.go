package serve

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// The web explorer: a single page (ui/ at the repository root, built with
// esbuild into ui/dist here) that searches a node, draws its neighbourhood
// with cytoscape and expands nodes on click by calling the API's Connect
// JSON endpoints from the browser. The built files are committed, so that
// building rdg needs Go only; `cd ui && npm ci && npm run build` rebuilds
// them from the lockfile, byte for byte.
//
//go:embed ui/dist
var uiFiles embed.FS

type uiAsset struct {
	body  []byte
	gz    []byte // body gzipped, nil where that does not pay
	ctype string
	etag  string
}

// uiHandler serves the embedded explorer under /ui/.
type uiHandler struct {
	assets map[string]uiAsset // by name under dist, "index.html" for /ui/
}

func newUIHandler() *uiHandler {
	sub, err := fs.Sub(uiFiles, "ui/dist")
	if err != nil {
		panic(err)
	}
	h := &uiHandler{assets: map[string]uiAsset{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		h.assets[p] = uiAsset{body: b, gz: gzipped(b), ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic(err)
	}
	if _, ok := h.assets["index.html"]; !ok {
		panic("serve: the embedded explorer has no index.html: run `cd ui && npm ci && npm run build`")
	}
	return h
}

// setPageHeaders sets the headers every explorer page carries: the page
// loads nothing from elsewhere, runs only its own script, and cannot be
// framed. inlineStyle allows a <style> element (the login page has one).
func setPageHeaders(h http.Header, inlineStyle bool) {
	style := "style-src 'self'"
	if inlineStyle {
		style += " 'unsafe-inline'"
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "+style+"; "+
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.URL.Path == logoutPath {
			// No authentication configured: there is nothing to log out of.
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
			return
		}
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/ui/")
	switch {
	case !ok: // "/ui"
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		return
	case name == "login":
		// Without authentication the login page has nothing to do.
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	case name == "":
		name = "index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	setPageHeaders(w.Header(), false)
	w.Header().Set("Content-Type", a.ctype)
	// Revalidate every time: a browser must never run an old script
	// against a newer server, and an unchanged file costs a 304.
	w.Header().Set("Cache-Control", "no-cache")
	body, etag := a.body, a.etag
	if a.gz != nil {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = a.gz, a.etag[:len(a.etag)-1]+`-gz"`
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Header().Set("ETag", etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// gzipped compresses b once at start; cytoscape makes the script large
// (about 580 kB, 180 kB gzipped).
func gzipped(b []byte) []byte {
	if len(b) < 1024 {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() > len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(q, " ", "") != "q=0"
		}
	}
	return false
}

// WithUI mounts the web explorer at /ui/ (and /ui, which redirects).
func WithUI() Opt {
	h := newUIHandler()
	return func(c *config) {
		WithHandle("/ui/", h)(c)
		WithHandle("/ui", h)(c)
	}
}
