package notify

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// The SMTP Secret's tls values.
const (
	tlsStartTLS = "starttls"
	tlsImplicit = "tls"
	tlsNone     = "none"
)

// defaultSMTPPort is the submission port, where STARTTLS is the norm.
const defaultSMTPPort = 587

// smtpConfig is an SMTP Secret's settings.
type smtpConfig struct {
	host               string
	port               int
	username, password string
	from               string
	// tls is tlsStartTLS, tlsImplicit or tlsNone.
	tls string
}

// smtpFrom reads an SMTP Secret's data; errors name the Secret and its
// keys, never a value.
func smtpFrom(secret string, data map[string][]byte) (smtpConfig, error) {
	c := smtpConfig{
		host: string(data["host"]), username: string(data["username"]), password: string(data["password"]),
		from: string(data["from"]), tls: strings.ToLower(strings.TrimSpace(string(data["tls"]))), port: defaultSMTPPort,
	}
	for _, k := range []struct{ key, value string }{{"host", c.host}, {"from", c.from}} {
		if k.value == "" {
			return c, fmt.Errorf("the SMTP Secret %s has no key %s", secret, k.key)
		}
	}
	if p := strings.TrimSpace(string(data["port"])); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("the SMTP Secret %s: key port is not a port number", secret)
		}
		c.port = n
	}
	switch c.tls {
	case "":
		c.tls = tlsStartTLS
	case tlsStartTLS, tlsImplicit, tlsNone:
	default:
		return c, fmt.Errorf("the SMTP Secret %s: key tls must be starttls, tls or none", secret)
	}
	return c, nil
}

// sendMail delivers m to recipients through c, within ctx's deadline.
// Whatever the server or net/smtp says is cut of the password before it
// becomes the error.
func sendMail(ctx context.Context, c smtpConfig, recipients []string, m Message) error {
	client, err := dialSMTP(ctx, c)
	if err != nil {
		return redact(err, c.secrets()...)
	}
	defer func() { _ = client.Close() }()
	if err := submit(client, c, recipients, m); err != nil {
		return redact(err, c.secrets()...)
	}
	return nil
}

// secrets are the values no error may quote: the password, and the AUTH
// PLAIN response a server might echo.
func (c smtpConfig) secrets() []string {
	if c.password == "" {
		return nil
	}
	return []string{c.password, base64.StdEncoding.EncodeToString([]byte("\x00" + c.username + "\x00" + c.password))}
}

// dialSMTP connects to the server and greets it, in TLS from the start
// for tls: tls. The connection's deadline is ctx's, so a server that
// stops answering costs one attempt's Timeout.
func dialSMTP(ctx context.Context, c smtpConfig) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(c.host, strconv.Itoa(c.port)))
	if err != nil {
		return nil, fmt.Errorf("connecting to the SMTP server: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if c.tls == tlsImplicit {
		conn = tls.Client(conn, c.tlsConfig())
	}
	client, err := smtp.NewClient(conn, c.host)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("greeting the SMTP server: %w", err)
	}
	return client, nil
}

// tlsConfig verifies the server as host.
func (c smtpConfig) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}
}

// submit upgrades to TLS when asked and offered, authenticates when the
// Secret has a username, and hands the message over.
func submit(client *smtp.Client, c smtpConfig, recipients []string, m Message) error {
	if c.tls == tlsStartTLS {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(c.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		}
	}
	if c.username != "" {
		// net/smtp's PLAIN refuses an unencrypted link to anything but
		// localhost: the password is never sent in the clear.
		if err := client.Auth(smtp.PlainAuth("", c.username, c.password, c.host)); err != nil {
			return fmt.Errorf("SMTP authentication failed: %w", err)
		}
	}
	if err := client.Mail(c.from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, r := range recipients {
		if err := client.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", r, err)
		}
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write([]byte(mailText(c.from, recipients, m))); err != nil {
		return fmt.Errorf("writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	return client.Quit()
}

// mailText is the message with its headers, lines ending in CRLF.
func mailText(from string, to []string, m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, strings.Join(to, ", "), m.Subject(), time.Now().UTC().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	b.WriteString(strings.ReplaceAll(m.Body(), "\n", "\r\n"))
	return b.String()
}
