package database

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ConnClass says why a connection failed in a word that names no host,
// port or address and quotes nothing the dialer or the server said: what a
// namespace may learn of a database it did not choose.
type ConnClass string

const (
	// ConnClassDNS: the host name did not resolve.
	ConnClassDNS ConnClass = "DNS"
	// ConnClassRefused: nothing accepted a connection on the port.
	ConnClassRefused ConnClass = "refused"
	// ConnClassTimeout: no answer in time.
	ConnClassTimeout ConnClass = "timeout"
	// ConnClassTLS: the TLS handshake failed, the certificate did not
	// verify, or the server does not speak TLS where it was required.
	ConnClassTLS ConnClass = "TLS"
	// ConnClassAuth: the server refused the credentials or the database.
	ConnClassAuth ConnClass = "auth"
	// ConnClassUnreachable: any other failure to connect.
	ConnClassUnreachable ConnClass = "unreachable"
)

// mysqlAuthErrors are the MySQL and MariaDB error numbers of a refused
// login: access denied to the server (1045), to the database (1044), to a
// user without a password (1698), an unknown database (1049), an
// authentication method the client lacks (1251), an expired password
// (1820, 1862), a locked account (3118 in MySQL, 4151 in MariaDB).
var mysqlAuthErrors = map[uint16]bool{1044: true, 1045: true, 1049: true, 1251: true, 1698: true, 1820: true, 1862: true, 3118: true, 4151: true}

// ConnectionClass classes a failure to connect (an error from Open, or
// anything wrapping one) from the driver's and the network's error types.
// The server's own answer comes first: a refused login proves the network
// path works.
func ConnectionClass(err error) ConnClass {
	switch {
	case err == nil:
		return ""
	case isAuthError(err):
		return ConnClassAuth
	case isTLSError(err):
		return ConnClassTLS
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ConnClassDNS
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return ConnClassRefused
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		return ConnClassTimeout
	}
	return ConnClassUnreachable
}

func isAuthError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 28, invalid authorization specification (28000, 28P01);
		// 3D000, the database does not exist (or may not be told apart
		// from one the user may not see).
		return strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000"
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return mysqlAuthErrors[myErr.Number]
	}
	return errors.Is(err, mysql.ErrCleartextPassword) || errors.Is(err, mysql.ErrNativePassword) ||
		errors.Is(err, mysql.ErrOldPassword) || errors.Is(err, mysql.ErrUnknownPlugin)
}

func isTLSError(err error) bool {
	var (
		recordErr    tls.RecordHeaderError
		alertErr     tls.AlertError
		verifyErr    *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostErr      x509.HostnameError
		invalidErr   x509.CertificateInvalidError
	)
	return errors.As(err, &recordErr) || errors.As(err, &alertErr) || errors.As(err, &verifyErr) ||
		errors.As(err, &authorityErr) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) ||
		errors.Is(err, mysql.ErrNoTLS) ||
		// pgconn's answer to a server without TLS has no type of its own.
		strings.Contains(err.Error(), "server refused TLS connection")
}

// UnreachableError is a failure to connect told without the dialer's
// words: the target's name and the class of the failure. Like a
// *ConnectionError it matches ErrUnreachable, so it is retried the same
// way; it does not unwrap to the failure it classes, so nothing that
// prints or inspects it can reach the raw text.
type UnreachableError struct {
	Target string
	Class  ConnClass
}

func (e *UnreachableError) Error() string {
	return "cannot reach target " + e.Target + ": " + string(e.Class)
}

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// SafeConnError is err told safely for the target called name: an
// *UnreachableError when err is a failure to connect (errors.Is(err,
// ErrUnreachable)), err itself otherwise (nil, a busy lock, a SQLite path
// refused, a failure after connecting).
func SafeConnError(name string, err error) error {
	if !errors.Is(err, ErrUnreachable) {
		return err
	}
	return &UnreachableError{Target: name, Class: ConnectionClass(err)}
}

// ErrConnectionLost matches a statement whose connection broke while it
// ran (see ConnectionLost), through the errors that wrap one.
var ErrConnectionLost = errors.New("the connection to the database was lost")

// ConnectionLost reports whether err is a connection that broke while in
// use: the server went away or was killed, the network cut it, or the
// driver closed it after a statement it cancelled. Whether the statement
// in flight took effect is unknown to the client; the revision table, and
// the next apply under the lock, say.
func ConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	var opErr *net.OpError
	return errors.Is(err, ErrConnectionLost) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &opErr)
}

// mysqlAlreadyThere are the MySQL and MariaDB errors of a DDL statement
// whose effect is there already: a table (1050), column (1060), key
// (1061), primary key (1068) or foreign key (1826) that exists, or one to
// drop that does not (1091).
var mysqlAlreadyThere = map[uint16]bool{1050: true, 1060: true, 1061: true, 1068: true, 1091: true, 1826: true}

// pgAlreadyThere are PostgreSQL's: a duplicate table, column, object or
// schema, or an object to drop that does not exist.
var pgAlreadyThere = map[string]bool{"42P07": true, "42701": true, "42710": true, "42P06": true, "42704": true}

// AlreadyThere reports whether err is a DDL statement failing because its
// effect is there already (it ran before), not for any other reason: a
// missing function, a table it cannot see, a syntax the server refuses.
func AlreadyThere(err error) bool {
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return mysqlAlreadyThere[my.Number]
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pgAlreadyThere[pg.Code]
}

// ServerErrorCode is the code the database's server gave the error err
// is or wraps (PostgreSQL's SQLSTATE, MySQL's and MariaDB's error number,
// SQLite's result code), and false when err holds no error of the
// server's. The code names the kind of failure and, unlike the server's
// message, quotes none of the data the statement read.
func ServerErrorCode(err error) (string, bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return "SQLSTATE " + pg.Code, true
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return fmt.Sprintf("error %d", my.Number), true
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return fmt.Sprintf("SQLite result code %d", lite.Code()), true
	}
	return "", false
}
