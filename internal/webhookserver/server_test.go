package webhookserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestServerProtocols(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
		want    string
	}{
		{name: "HTTP/2 by default", want: "HTTP/2.0"},
		{name: "HTTP/1.1 when disabled", disable: true, want: "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dir := t.TempDir()
			writeCert(t, dir)
			port := freePort(t)
			s := New(Options{Host: "127.0.0.1", Port: port, CertDir: dir, DisableHTTP2: tc.disable})
			s.Register("/proto", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, r.Proto)
			}))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Start(ctx) }()
			t.Cleanup(func() {
				cancel()
				g.Expect(<-done).To(Succeed())
			})
			g.Eventually(func() error { return s.StartedChecker()(nil) }, 10*time.Second, 20*time.Millisecond).Should(Succeed())

			c := &http.Client{Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test certificate
				ForceAttemptHTTP2: true,
			}}
			resp, err := c.Get("https://127.0.0.1:" + strconv.Itoa(port) + "/proto")
			g.Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close() //nolint:errcheck // read below
			body, err := io.ReadAll(resp.Body)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(body)).To(Equal(tc.want))
		})
	}
}

// writeCert writes a self-signed tls.crt and tls.key for 127.0.0.1 to dir.
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"tls.crt": {Type: "CERTIFICATE", Bytes: der},
		"tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // only borrowed its port
	return l.Addr().(*net.TCPAddr).Port
}
