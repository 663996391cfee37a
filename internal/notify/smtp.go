package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// smtpConfig is an SMTP Secret's settings.
type smtpConfig struct {
	host               string
	port               int
	username, password string
	from               string
	// tls is starttls, tls or none.
	tls string
}

// smtpFrom reads an SMTP Secret's data; errors name keys, never values.
func smtpFrom(name string, data map[string][]byte) (smtpConfig, error) {
	c := smtpConfig{
		host: string(data["host"]), username: string(data["username"]), password: string(data["password"]),
		from: string(data["from"]), tls: strings.ToLower(string(data["tls"])), port: 587,
	}
	if c.host == "" || c.from == "" {
		return c, fmt.Errorf("the SMTP Secret %s needs the keys host and from", name)
	}
	if p := string(data["port"]); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("the SMTP Secret %s: key port is not a port number", name)
		}
		c.port = n
	}
	switch c.tls {
	case "":
		c.tls = "starttls"
	case "starttls", "tls", "none":
	default:
		return c, fmt.Errorf("the SMTP Secret %s: key tls must be starttls, tls or none", name)
	}
	return c, nil
}

// sendMail delivers m to recipients through c, within ctx's deadline.
func sendMail(ctx context.Context, c smtpConfig, recipients []string, m Message) error {
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connecting to the SMTP server: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if c.tls == "tls" {
		conn = tls.Client(conn, &tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12})
	}
	client, err := smtp.NewClient(conn, c.host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting the SMTP server: %w", err)
	}
	defer func() { _ = client.Close() }()
	if c.tls == "starttls" {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(&tls.Config{ServerName: c.host, MinVersion: tls.VersionTLS12}); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		}
	}
	if c.username != "" {
		// net/smtp refuses PLAIN over an unencrypted link to anything
		// but localhost: the password is never sent in the clear.
		if err := client.Auth(smtp.PlainAuth("", c.username, c.password, c.host)); err != nil {
			return errors.New("SMTP authentication failed")
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
