// Command dbcerts writes the certificates of the test database servers
// hack/db-up.sh starts with TLS: a certificate authority (DIR/ca.crt) and a
// server certificate it signed (DIR/server.crt, DIR/server.key, the key
// readable by its owner only).
//
//	go run ./hack/dbcerts -dir bin/db/tls -ip 127.0.0.1
//
// The server certificate names only the addresses given with -ip (and the
// host names given with -dns), so a test that dials the server by another
// name (localhost) sees sslmode verify-full refuse what verify-ca accepts.
// Existing files are kept: a restarted server keeps the CA the tests were
// given. The CA's key is not written; nothing else is ever signed with it.
// Go only, so a fresh machine needs no openssl.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory to write ca.crt, server.crt and server.key into")
	ips := flag.String("ip", "127.0.0.1", "comma-separated IP addresses the server certificate names")
	dnsNames := flag.String("dns", "", "comma-separated host names the server certificate names")
	validity := flag.Duration("validity", 10*365*24*time.Hour, "how long the certificates are valid")
	flag.Parse()
	if err := run(*dir, split(*ips), split(*dnsNames), *validity); err != nil {
		fmt.Fprintln(os.Stderr, "dbcerts:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func run(dir string, ips, dnsNames []string, validity time.Duration) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	caFile, certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if exists(caFile) && exists(certFile) && exists(keyFile) {
		return nil
	}
	var addrs []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("-ip %q is not an IP address", s)
		}
		addrs = append(addrs, ip)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	now := time.Now().Add(-time.Hour) // a clock slightly behind still accepts them
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kube-shift test database CA"},
		NotBefore:             now,
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	server := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-shift test database"},
		NotBefore:    now,
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  addrs,
		DNSNames:     dnsNames,
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}

	// The key first and the CA last: a run cut short leaves no ca.crt,
	// and the next run writes all three again.
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	if err := writePEM(certFile, "CERTIFICATE", serverDER, 0o644); err != nil {
		return err
	}
	return writePEM(caFile, "CERTIFICATE", caDER, 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writePEM replaces path with one PEM block in one rename.
func writePEM(path, blockType string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
