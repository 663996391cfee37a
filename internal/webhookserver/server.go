package webhookserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// MaxConcurrentStreams bounds the requests one HTTP/2 connection carries
// at once. Past it the API server opens another connection (its transport
// does not wait for a free stream), and each connection's frames are read
// by a goroutine of its own, so a burst of reviews does not queue behind
// one reader. With 50 creates in flight (BenchmarkAdmission, beside other
// jobs) the validating handler's p99 was 10-36 ms with 8, 50-66 ms with
// 25, 40-75 ms with 250, 30-43 ms on HTTP/1.1. It also bounds what one
// connection makes the server run at once.
const MaxConcurrentStreams = 8

// Options say where and how the webhooks are served.
type Options struct {
	// Host and Port the server listens on (all interfaces when Host is
	// empty; webhook.DefaultPort when Port is 0).
	Host string
	Port int
	// CertDir holds tls.crt and tls.key, reloaded when they change.
	CertDir string
	// DisableHTTP2 serves HTTP/1.1 only. By default the server offers
	// HTTP/2 too, at most MaxConcurrentStreams requests per connection:
	// on HTTP/1.1 the API server keeps 25 idle connections per webhook
	// host, so past 25 reviews in flight it opens (and closes) a TLS
	// connection for nearly every call. SECURITY.md says why HTTP/2 is
	// safe here.
	DisableHTTP2 bool
	// TLSOpts change the TLS configuration last.
	TLSOpts []func(*tls.Config)
}

// Server is a webhook.Server: it registers handlers as controller-runtime's
// does and serves them with the HTTP/2 settings of its Options.
type Server struct {
	*webhook.DefaultServer
	opts    Options
	mux     *http.ServeMux
	started atomic.Bool
}

var _ webhook.Server = &Server{}

// New returns a server for o.
func New(o Options) *Server {
	if o.Port == 0 {
		o.Port = webhook.DefaultPort
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	mux := http.NewServeMux()
	return &Server{
		DefaultServer: &webhook.DefaultServer{Options: webhook.Options{Host: o.Host, Port: o.Port, CertDir: o.CertDir, WebhookMux: mux}},
		opts:          o,
		mux:           mux,
	}
}

// Start serves until ctx ends, then shuts down within a minute.
func (s *Server) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhook-server")
	certs, err := certwatcher.New(filepath.Join(s.opts.CertDir, "tls.crt"), filepath.Join(s.opts.CertDir, "tls.key"))
	if err != nil {
		return err
	}
	go func() {
		if err := certs.Start(ctx); err != nil {
			log.Error(err, "certificate watcher")
		}
	}()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}, GetCertificate: certs.GetCertificate}
	if s.opts.DisableHTTP2 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	for _, opt := range s.opts.TLSOpts {
		opt(cfg)
	}
	ln, err := tls.Listen("tcp", s.addr(), cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           s.mux,
		MaxHeaderBytes:    1 << 20,
		IdleTimeout:       90 * time.Second,
		ReadHeaderTimeout: 32 * time.Second,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: MaxConcurrentStreams},
	}
	if s.opts.DisableHTTP2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){} // HTTP/1.1 only
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error(err, "shutting down")
		}
	}()
	log.Info("serving webhooks", "address", s.addr(), "http2", !s.opts.DisableHTTP2)
	s.started.Store(true)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-closed
	return nil
}

// StartedChecker is healthy once the server accepts TLS connections.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		if !s.started.Load() {
			return errors.New("webhook server has not been started yet")
		}
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", s.addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only probing that it serves
		if err != nil {
			return fmt.Errorf("webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}

func (s *Server) addr() string { return net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)) }
