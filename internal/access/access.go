// Package access owns how rdg authenticates and encrypts the connections it
// makes and accepts: the credentials file that `rdg up` requires on every
// listener and that rdg's clients present, the TLS configurations built
// from PEM files, and the schema registry client options (HTTP basic auth,
// TLS). The Kafka client options built from them are internal/kafka's
// (kafka.Cluster).
//
// access knows connections and secrets, nothing of rdg's data or parts: it
// must not know jobs, topics, stores or the API, and it starts no servers.
package access

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// SASL mechanisms, by their Kafka names.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Mechanisms are the SASL mechanisms rdg's clients speak and its embedded
// broker accepts.
var Mechanisms = []string{Plain, ScramSHA256, ScramSHA512}

// DefaultMechanism is what rdg's clients use unless told otherwise: SCRAM
// never sends the password itself, so it is the safer choice where TLS is
// off.
const DefaultMechanism = ScramSHA512

// Credentials are a user and its password.
type Credentials struct {
	User, Password string
}

// String never shows the password, so Credentials are safe to log.
func (c Credentials) String() string { return c.User + ":***" }

// ReadCredentialsFile reads "user:password" from one line of path, the
// form of Confluent's basic.auth.user.info. Surrounding white space (a
// trailing newline) is ignored. Both parts must be printable ASCII without
// spaces, because the password is also sent as an HTTP bearer token, and
// the user may not contain ':', which HTTP basic auth cannot carry.
func ReadCredentialsFile(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file: %w", err)
	}
	c, err := parseCredentials(string(b))
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return c, nil
}

// parseCredentials parses "user:password" as ReadCredentialsFile does.
func parseCredentials(s string) (Credentials, error) {
	s = strings.TrimSpace(s)
	user, pass, ok := strings.Cut(s, ":")
	switch {
	case s == "":
		return Credentials{}, errors.New("empty: want one line user:password")
	case !ok:
		return Credentials{}, errors.New("no ':': want one line user:password")
	case user == "":
		return Credentials{}, errors.New("empty user: want user:password")
	case pass == "":
		return Credentials{}, errors.New("empty password: want user:password")
	}
	for _, part := range []struct{ name, v string }{{"user", user}, {"password", pass}} {
		for _, r := range part.v {
			if r <= ' ' || r > '~' {
				return Credentials{}, fmt.Errorf("the %s must be printable ASCII without spaces (one line user:password)", part.name)
			}
		}
	}
	return Credentials{User: user, Password: pass}, nil
}

// Registry says how a client reaches a schema registry.
type Registry struct {
	// Basic, if set, is sent as HTTP basic auth on every request, as
	// Confluent clients send basic.auth.user.info.
	Basic *Credentials
	// TLS, if set, is used for https:// URLs.
	TLS *tls.Config
}

// Opts are the sr client options for r, to add to sr.URLs.
func (r Registry) Opts() []sr.ClientOpt {
	var opts []sr.ClientOpt
	if r.Basic != nil {
		opts = append(opts, sr.BasicAuth(r.Basic.User, r.Basic.Password))
	}
	if r.TLS != nil {
		// sr's default client has a 5 s timeout; keep it with the TLS
		// transport.
		opts = append(opts, sr.HTTPClient(HTTPClient(r.TLS, 5*time.Second)))
	}
	return opts
}

// HTTPClient is an HTTP client that verifies https:// servers with tc
// (and otherwise behaves as http.DefaultClient), giving up on a request
// after timeout (0: never).
func HTTPClient(tc *tls.Config, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Timeout: timeout, Transport: tr}
}

// ClientTLS is a client TLS configuration that verifies servers against
// the PEM certificates in caFile (the system's roots if caFile is empty)
// and, if certFile and keyFile are given, presents that certificate.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := readPool(caFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate %s and key %s: %w", certFile, keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("a TLS client certificate needs both the certificate and its key")
	}
	return c, nil
}

// TrustCertFile is a client TLS configuration for a process's clients of
// its own listeners, which serve the certificate in certFile: it accepts a
// server that presents one of the certificates in that file, whatever host
// name the client dialled (a listener on 0.0.0.0 or a name the certificate
// does not carry is still this process). The file is read at each
// handshake, so a certificate renewed in place is trusted as soon as the
// listener serves it.
func TrustCertFile(certFile string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is VerifyConnection's: by certificate identity,
		// not by host name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("TLS: the server sent no certificate")
			}
			pool, err := readPool(certFile)
			if err != nil {
				return err
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		},
	}
}

// readPool reads every PEM certificate in path.
func readPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS certificates: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("TLS certificates in %s: %w", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("TLS certificates: no PEM certificate in %s", path)
	}
	return pool, nil
}
