package database_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"

	"github.com/mohit-nagaraj/kube-shift/internal/database"
	"github.com/mohit-nagaraj/kube-shift/internal/testing/dbtest"
)

func TestConnectionClassOfErrorTypes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want database.ConnClass
	}{
		{name: "nil", err: nil, want: ""},
		{name: "a PostgreSQL password refused", err: fmt.Errorf("ping: %w", &pgconn.PgError{Code: "28P01"}), want: database.ConnClassAuth},
		{name: "a PostgreSQL role refused", err: &pgconn.PgError{Code: "28000"}, want: database.ConnClassAuth},
		{name: "another PostgreSQL error", err: &pgconn.PgError{Code: "53300"}, want: database.ConnClassUnreachable},
		{name: "a MySQL password refused", err: &mysql.MySQLError{Number: 1045}, want: database.ConnClassAuth},
		{name: "a MySQL database refused", err: &mysql.MySQLError{Number: 1044}, want: database.ConnClassAuth},
		{name: "another MySQL error", err: &mysql.MySQLError{Number: 1040}, want: database.ConnClassUnreachable},
		{name: "MySQL without TLS", err: mysql.ErrNoTLS, want: database.ConnClassTLS},
		{name: "a TLS record", err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, want: database.ConnClassTLS},
		{name: "a DNS failure", err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}}, want: database.ConnClassDNS},
		{name: "a refused connection", err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, want: database.ConnClassRefused},
		{name: "a context deadline", err: fmt.Errorf("dial: %w", context.DeadlineExceeded), want: database.ConnClassTimeout},
		{name: "a connect that timed out", err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ETIMEDOUT)}, want: database.ConnClassTimeout},
		{name: "a deadline of the connection", err: fmt.Errorf("reading the greeting: %w", wrapDeadline()), want: database.ConnClassTimeout},
		{name: "no route", err: &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, want: database.ConnClassUnreachable},
		{name: "anything else", err: errors.New("bad connection"), want: database.ConnClassUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(database.ConnectionClass(tc.err)).To(Equal(tc.want))
		})
	}
}

// wrapDeadline is the error a net.Conn returns past its deadline.
func wrapDeadline() error {
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	_ = a.SetReadDeadline(time.Now().Add(-time.Second))
	_, err := a.Read(make([]byte, 1))
	return err
}

func TestSafeConnError(t *testing.T) {
	g := NewWithT(t)
	raw := &database.ConnectionError{Target: "postgres://db.internal:5432/app", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	err := database.SafeConnError("shop", fmt.Errorf("planning: %w", raw))
	g.Expect(err).To(MatchError("cannot reach target shop: refused"))
	g.Expect(err).To(MatchError(database.ErrUnreachable))
	var unreachable *database.UnreachableError
	g.Expect(errors.As(err, &unreachable)).To(BeTrue())
	g.Expect(unreachable.Class).To(Equal(database.ConnClassRefused))
	g.Expect(errors.As(err, new(*database.ConnectionError))).To(BeFalse(), "the raw failure cannot be reached through it")

	g.Expect(database.SafeConnError("shop", nil)).To(Succeed())
	for _, other := range []error{database.ErrLockBusy, database.ErrSQLitePathOutsideRoot, errors.New("syntax error")} {
		g.Expect(database.SafeConnError("shop", other)).To(BeIdenticalTo(other))
	}
}

// TestConnectionClassOfRealFailures opens targets that fail each way,
// against the test servers where a server is needed and against local
// listeners that misbehave on purpose otherwise, and checks the class and
// that the safe form says nothing of host, port, user or password.
func TestConnectionClassOfRealFailures(t *testing.T) {
	silent := listen(t, func(net.Conn) {})
	plainAfterSSL := listen(t, func(c net.Conn) {
		_, _ = io.ReadFull(c, make([]byte, 8))
		_, _ = c.Write([]byte("SHTTP/1.0 400 Bad Request\r\n\r\n"))
	})
	selfSigned := httptest.NewUnstartedServer(nil)
	selfSigned.StartTLS()
	t.Cleanup(selfSigned.Close)
	untrustedTLS := listen(t, func(c net.Conn) {
		_, _ = io.ReadFull(c, make([]byte, 8))
		_, _ = c.Write([]byte("S"))
		_ = tls.Server(c, selfSigned.TLS).Handshake()
	})
	// The servers without TLS answer as PostgreSQL and MariaDB do when
	// they have none (the test servers have it): PostgreSQL says N to the
	// client's SSLRequest; MariaDB's greeting lacks the SSL capability.
	postgresNoTLS := listen(t, func(c net.Conn) {
		_, _ = io.ReadFull(c, make([]byte, 8))
		_, _ = c.Write([]byte("N"))
	})
	mysqlNoTLS := listen(t, func(c net.Conn) {
		_, _ = c.Write(mysqlGreetingWithoutTLS())
	})

	type failure struct {
		name string
		url  func(t *testing.T) string
		want database.ConnClass
	}
	fixed := func(raw string) func(*testing.T) string { return func(*testing.T) string { return raw } }
	tests := []failure{
		{name: "postgres wrong password", url: func(t *testing.T) string { return withPassword(t, dbtest.PostgresURL(t)) }, want: database.ConnClassAuth},
		{name: "mysql wrong password", url: func(t *testing.T) string { return withPassword(t, dbtest.MySQLURL(t)) }, want: database.ConnClassAuth},
		{name: "postgres TLS required of a server without it", url: fixed("postgres://kube:topsecret@" + postgresNoTLS + "/app?sslmode=require"), want: database.ConnClassTLS},
		{name: "mysql TLS required of a server without it", url: fixed("mysql://kube:topsecret@" + mysqlNoTLS + "/app?tls=skip-verify"), want: database.ConnClassTLS},
		{name: "postgres refused", url: fixed("postgres://kube:topsecret@127.0.0.1:1/app?sslmode=disable"), want: database.ConnClassRefused},
		{name: "mysql refused", url: fixed("mysql://kube:topsecret@127.0.0.1:1/app"), want: database.ConnClassRefused},
		{name: "postgres DNS", url: fixed("postgres://kube:topsecret@db.kube-shift.invalid:5432/app?sslmode=disable"), want: database.ConnClassDNS},
		{name: "mysql DNS", url: fixed("mysql://kube:topsecret@db.kube-shift.invalid:3306/app"), want: database.ConnClassDNS},
		{name: "postgres timeout", url: fixed("postgres://kube:topsecret@" + silent + "/app?sslmode=disable"), want: database.ConnClassTimeout},
		{name: "mysql timeout", url: fixed("mysql://kube:topsecret@" + silent + "/app"), want: database.ConnClassTimeout},
		{name: "postgres TLS record", url: fixed("postgres://kube:topsecret@" + plainAfterSSL + "/app?sslmode=require"), want: database.ConnClassTLS},
		{name: "postgres TLS certificate", url: fixed("postgres://kube:topsecret@" + untrustedTLS + "/app?sslmode=verify-full"), want: database.ConnClassTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			raw := tc.url(t)
			target, err := database.ParseURL(raw)
			g.Expect(err).NotTo(HaveOccurred())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			db, err := target.Open(ctx)
			if db != nil {
				_ = db.Close()
			}
			g.Expect(err).To(MatchError(database.ErrUnreachable))
			g.Expect(database.ConnectionClass(err)).To(Equal(tc.want), "classing %v", err)

			safe := database.SafeConnError("shop", err)
			g.Expect(safe).To(MatchError("cannot reach target shop: " + string(tc.want)))
			g.Expect(safe).To(MatchError(database.ErrUnreachable))
			u := parse(t, raw)
			password, _ := u.User.Password()
			for _, leak := range []string{u.Hostname(), u.Port(), u.User.Username(), password, "dial", "tcp"} {
				if leak != "" {
					g.Expect(safe.Error()).NotTo(ContainSubstring(leak))
				}
			}
		})
	}
}

// mysqlGreetingWithoutTLS is the start of a MariaDB server's first packet
// (protocol 10) as far as a client reads before it asks for TLS: the
// capabilities say protocol 4.1 and not SSL.
func mysqlGreetingWithoutTLS() []byte {
	payload := []byte{10}                               // protocol version
	payload = append(payload, "10.11.0-MariaDB\x00"...) // server version
	payload = append(payload, 1, 0, 0, 0)               // connection id
	payload = append(payload, "12345678"...)            // auth data, part 1
	payload = append(payload, 0)                        // filler
	payload = append(payload, 0x00, 0x02)               // capabilities: CLIENT_PROTOCOL_41 only
	header := []byte{byte(len(payload)), 0, 0, 0}       // length, sequence 0
	return append(header, payload...)
}

// listen serves each connection to a local port with serve, and returns
// the port's address.
func listen(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				serve(c)
				<-done
				_ = c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

func parse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func withPassword(t *testing.T, raw string) string {
	u := parse(t, raw)
	u.User = url.UserPassword(u.User.Username(), "not-"+strings.Repeat("the-password", 2))
	return u.String()
}
