package access

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdgraph/rdg/internal/access/accesstest"
)

func TestParseCredentials(t *testing.T) {
	for in, want := range map[string]Credentials{
		"rdg:s3cret":          {"rdg", "s3cret"},
		"  rdg:s3cret\n":      {"rdg", "s3cret"},
		"svc-1:pa:ss:word==":  {"svc-1", "pa:ss:word=="},
		"api_key:Zm9vYmFy+/=": {"api_key", "Zm9vYmFy+/="},
	} {
		got, err := parseCredentials(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":              "empty",
		"\n":            "empty",
		"rdg":           "no ':'",
		":s3cret":       "empty user",
		"rdg:":          "empty password",
		"rdg:two words": "password must be printable ASCII",
		"r dg:x":        "user must be printable ASCII",
		"rdg:x\ny:z":    "password must be printable ASCII",
		"rdg:pässword":  "password must be printable ASCII",
	} {
		if _, err := parseCredentials(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error saying %q", in, err, msg)
		}
	}
	if s := (Credentials{"u", "secret"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the password: %s", s)
	}
}

func TestReadCredentialsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "creds")
	if _, err := ReadCredentialsFile(f); err == nil || !strings.Contains(err.Error(), "credentials file") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(f, []byte("nocolon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCredentialsFile(f); err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("bad file: %v, want its name", err)
	}
}

// TestTLS: ClientTLS verifies against its CA file and checks the host
// name; TrustCertFile trusts the file's certificate under any name and
// nothing else.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "a")
	otherCert, _ := selfSigned(t, dir, "b")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		_, _ = w.Write([]byte(u + ":" + p))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	get := func(tc *tls.Config, host string) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
		resp, err := c.Get("https://" + net.JoinHostPort(host, port))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	good, err := ClientTLS(certFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := get(good, "127.0.0.1"); err != nil {
		t.Errorf("ClientTLS with the CA: %v", err)
	}
	if err := get(good, "localhost"); err == nil {
		t.Error("ClientTLS accepted a host name the certificate does not carry")
	}
	wrong, _ := ClientTLS(otherCert, "", "")
	if err := get(wrong, "127.0.0.1"); err == nil {
		t.Error("ClientTLS with another CA: accepted")
	}
	if err := get(TrustCertFile(certFile), "localhost"); err != nil {
		t.Errorf("TrustCertFile under another name: %v", err)
	}
	if err := get(TrustCertFile(otherCert), "127.0.0.1"); err == nil {
		t.Error("TrustCertFile of another certificate: accepted")
	}
	if _, err := ClientTLS(filepath.Join(dir, "missing.pem"), "", ""); err == nil {
		t.Error("missing CA file: no error")
	}
	if _, err := ClientTLS(keyFile, "", ""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file without certificates: %v", err)
	}
	if _, err := ClientTLS("", certFile, ""); err == nil {
		t.Error("client certificate without key: no error")
	}
	if c, err := ClientTLS("", certFile, keyFile); err != nil || len(c.Certificates) != 1 {
		t.Errorf("client certificate: %v", err)
	}
}

func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem")
	accesstest.SelfSigned(t, certFile, keyFile, "rdg access test "+name, "127.0.0.1")
	return certFile, keyFile
}
