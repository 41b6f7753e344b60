package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/logbuf"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/webhook"
)

// Server timeouts: a slow client cannot hold a connection open for long.
// The idle timeout is a flag (-idle-timeout).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	maxHeaderBytes    = 64 << 10 // backstop; api answers 431 with a Twilio body from 16 KiB
	logBufferSize     = 64 << 10
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	level, _ := parseLevel(cfg.logLevel)
	var handler slog.Handler
	if cfg.logFlushInterval > 0 {
		// One write per access log line would cost more than the request.
		buffered := logbuf.New(stderr, logBufferSize, cfg.logFlushInterval)
		// Close writes the last batch to stderr; if that fails, there is
		// nowhere left to say so.
		defer func() { _ = buffered.Close() }()
		handler = logbuf.Handler(slog.NewJSONHandler(buffered, &slog.HandlerOptions{Level: level}), buffered, slog.LevelWarn)
	} else {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", slog.String("error", err.Error()))
		}
	}()

	tokens := map[string]string{}
	if cfg.bootstrap != "" {
		if tokens, err = applyBootstrapFile(ctx, st, cfg.bootstrap, time.Now()); err != nil {
			return err
		}
	}
	dev, err := devCredentials(ctx, st, cfg)
	if err != nil {
		return err
	}
	if dev != nil {
		tokens[dev.AccountSID] = dev.AuthToken
	}
	secrets, err := signingSecrets(ctx, st, tokens, log)
	if err != nil {
		return err
	}
	deliverer, err := webhook.NewDeliverer(st, webhook.Config{
		Secrets: secrets,
		Client:  webhook.NewClient(cfg.webhookTimeout, cfg.webhookHosts),
		Lease:   3 * cfg.webhookTimeout,
		Log:     log,
	})
	if err != nil {
		return err
	}
	keys, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		return err
	}
	h, err := api.NewHandler(api.Config{
		PublicURL:          cfg.publicURL,
		ResponseValidation: api.ResponseValidation(cfg.responseValidation),
		BodyLimit:          cfg.bodyLimit,
		RequestTimeout:     cfg.requestTimeout,
		AuthFailureLimit:   cfg.authFailureLimit,
		AuthFailureWindow:  cfg.authFailureWindow,
		TrustForwardedFor:  cfg.trustForwardedFor,
		EventsRecorded:     deliverer.Notify,
		WebhookHosts:       cfg.webhookHosts,
		Collectors:         []prometheus.Collector{deliverer.Collector()},
		PhoneDir:           phoneDir(dev, cfg),
	}, st, keys, log)
	if err != nil {
		return err
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, unwrapSyscall(err))
	}
	// At the cap, Accept waits for a connection to close; new ones wait in
	// the kernel's listen backlog meanwhile, and the idle timeout bounds how
	// long idle keep-alive connections can keep them there.
	ln = netutil.LimitListener(ln, cfg.maxConnections)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	if dev != nil {
		printDevBanner(stdout, dev, ln.Addr().String(), cfg)
	}
	// Warned only once verifyd serves: a start-up failure prints one line.
	if perm, open := dataDirOpen(cfg.dataDir); open {
		log.Warn("data directory can be read or entered by other users",
			slog.String("dir", cfg.dataDir), slog.String("mode", perm.String()),
			slog.String("fix", "chmod 700 "+cfg.dataDir))
	}
	log.Info("verifyd started", slog.String("addr", ln.Addr().String()), slog.String("store", where))

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       cfg.idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Deliveries run until the server has stopped: an attempt cut short
	// is made again, by this instance after a restart or by another.
	hookCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		_ = deliverer.Run(hookCtx) // returns only hookCtx's error
	}()
	defer func() { stopHooks(); <-hooksDone }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", cfg.shutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("verifyd stopped")
	return nil
}

// unwrapSyscall keeps start-up errors to one readable line, such as
// "address already in use".
func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// isLoopback reports whether a listen address accepts only local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
