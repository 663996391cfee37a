package database

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Errors of a CA given for a connection (Config.CA). Neither quotes the
// CA: a message may say what is wrong with it, never what it holds.
var (
	// ErrCAInvalid: the CA holds no PEM certificate.
	ErrCAInvalid = errors.New("holds no PEM certificate")
	// ErrCAUnused: a CA is given but the connection does not verify the
	// server's certificate, so the CA would change nothing.
	ErrCAUnused = errors.New("a CA verifies the server's certificate only under sslMode verify-ca or verify-full")
)

// ParseCA is the pool of the certificates in pemCerts: the authorities a
// server's certificate must chain to. ErrCAInvalid when it holds none.
func ParseCA(pemCerts []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCerts) {
		return nil, ErrCAInvalid
	}
	return pool, nil
}

// verifies reports whether a connection in mode checks the server's
// certificate, which is what a CA is for.
func verifies(mode SSLMode) bool {
	return mode == SSLModeVerifyCA || mode == SSLModeVerifyFull
}

// trust gives t the authorities in pemCerts, refusing a CA the
// connection would not use.
func (t *Target) trust(pemCerts []byte) error {
	if pemCerts == nil {
		return nil
	}
	roots, err := ParseCA(pemCerts)
	if err != nil {
		return err
	}
	if mode := t.Engine.SSLMode(t.URL); !verifies(mode) {
		return fmt.Errorf("%w; the connection's is %q", ErrCAUnused, mode)
	}
	t.RootCAs = roots
	return nil
}

// verifyingTLS is the TLS configuration of sslmode verify-ca or verify-full
// (libpq's meaning, which the MySQL engine takes too) against roots (nil:
// the system's). verify-full checks that the certificate chains to roots
// and names host; verify-ca checks the chain only, for servers reached by
// an address their certificate does not name. host is still sent for SNI.
func verifyingTLS(mode SSLMode, host string, roots *x509.CertPool) *tls.Config {
	cfg := &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
	if mode != SSLModeVerifyCA {
		return cfg
	}
	// crypto/tls verifies the chain and the name together or not at all:
	// it verifies nothing here, and VerifyConnection the chain.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tls: the server presented no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		return nil
	}
	return cfg
}
