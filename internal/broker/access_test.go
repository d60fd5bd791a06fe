package broker

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rdgraph/rdg/internal/access"
	"github.com/rdgraph/rdg/internal/access/accesstest"
	"github.com/rdgraph/rdg/internal/kafka"
)

// metadataErr is the error of one metadata request by a fresh client with
// opts, or nil if the broker answered.
func metadataErr(t *testing.T, addr string, opts ...kgo.Opt) error {
	t.Helper()
	_, adm := client(t, addr, append([]kgo.Opt{kgo.RequestRetries(0)}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := adm.BrokerMetadata(ctx)
	return err
}

func saslOpts(t *testing.T, mech, user, pass string) []kgo.Opt {
	t.Helper()
	opts, err := kafka.Cluster{SASL: &access.Credentials{User: user, Password: pass}, Mechanism: mech}.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// TestSASL: with SASL on, the broker answers a client that authenticates as
// the configured user by any of the three mechanisms, and no other: none,
// a wrong password, an unknown user.
func TestSASL(t *testing.T) {
	b := start(t, SASL("rdg", "s3cret"))
	for _, m := range access.Mechanisms {
		if err := metadataErr(t, b.Addr(), saslOpts(t, m, "rdg", "s3cret")...); err != nil {
			t.Errorf("%s with the right password: %v", m, err)
		}
		if err := metadataErr(t, b.Addr(), saslOpts(t, m, "rdg", "wrong")...); err == nil {
			t.Errorf("%s with a wrong password: answered", m)
		}
		if err := metadataErr(t, b.Addr(), saslOpts(t, m, "mallory", "s3cret")...); err == nil {
			t.Errorf("%s as an unknown user: answered", m)
		}
	}
	if err := metadataErr(t, b.Addr()); err == nil {
		t.Error("without SASL: answered")
	}
}

// TestSASLUsersFollowOptions: the users are those of the options at each
// start, not those kfake persisted in the data directory at the last one;
// and no password is left in the data directory after a stop.
func TestSASLUsersFollowOptions(t *testing.T) {
	dir, addr := t.TempDir(), freePort(t)
	b, err := Start(quiet, Addr(addr), DataDir(dir), SASL("rdg", "old-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := metadataErr(t, addr, saslOpts(t, access.ScramSHA256, "rdg", "old-password")...); err != nil {
		t.Fatalf("first start: %v", err)
	}
	b.Close()
	assertNoPassword(t, dir, "old-password")

	b = start(t, Addr(addr), DataDir(dir), SASL("rdg", "new-password"))
	for _, m := range access.Mechanisms {
		if err := metadataErr(t, addr, saslOpts(t, m, "rdg", "old-password")...); err == nil {
			t.Errorf("%s: the old password still works after a restart with a new one", m)
		}
		if err := metadataErr(t, addr, saslOpts(t, m, "rdg", "new-password")...); err != nil {
			t.Errorf("%s: the new password: %v", m, err)
		}
	}
	assertNoPassword(t, dir, "new-password")
	b.Close()

	// Off again: no SASL asked, whatever was configured before.
	start(t, Addr(addr), DataDir(dir))
	if err := metadataErr(t, addr); err != nil {
		t.Errorf("restarted without SASL: %v", err)
	}
}

func assertNoPassword(t *testing.T, dir, pass string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), pass) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTLSAndSASL: with TLS the broker speaks only TLS; a client that trusts
// its certificate and authenticates gets answers.
func TestTLSAndSASL(t *testing.T) {
	certFile, keyFile := selfSigned(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, TLS(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}), SASL("rdg", "s3cret"))
	trusted, err := access.ClientTLS(certFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	good := append(saslOpts(t, "", "rdg", "s3cret"), kgo.DialTLSConfig(trusted))
	if err := metadataErr(t, b.Addr(), good...); err != nil {
		t.Errorf("TLS + SASL: %v", err)
	}
	if err := metadataErr(t, b.Addr(), saslOpts(t, "", "rdg", "s3cret")...); err == nil {
		t.Error("plaintext client of a TLS broker: answered")
	}
	if err := metadataErr(t, b.Addr(), append(saslOpts(t, "", "rdg", "s3cret"), kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))...); err == nil {
		t.Error("client that does not trust the certificate: answered")
	}
	// A process's own clients trust the certificate whatever name they dial.
	self := append(saslOpts(t, "", "rdg", "s3cret"), kgo.DialTLSConfig(access.TrustCertFile(certFile)))
	_, port, _ := net.SplitHostPort(b.Addr())
	if err := metadataErr(t, net.JoinHostPort("localhost", port), self...); err != nil {
		t.Errorf("TrustCertFile client dialling localhost: %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	accesstest.SelfSigned(t, certFile, keyFile, "rdg broker test", "127.0.0.1")
	return certFile, keyFile
}
