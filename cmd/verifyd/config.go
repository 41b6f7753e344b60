package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/webhook"
)

// config is everything verifyd reads from flags and the environment.
type config struct {
	addr               string
	dataDir            string
	store              string
	publicURL          string
	responseValidation string
	logLevel           string
	logFlushInterval   time.Duration
	bodyLimit          int64
	requestTimeout     time.Duration
	shutdownTimeout    time.Duration
	maxConnections     int
	idleTimeout        time.Duration
	bootstrap          string
	allowDevRemote     bool
	authFailureLimit   int
	authFailureWindow  time.Duration
	trustForwardedFor  bool
	webhookTimeout     time.Duration
	webhookHosts       *webhook.Hosts
}

// storeFlags registers the flags that say where the data lives; serve and
// every admin command share them.
func storeFlags(fs *flag.FlagSet, getenv func(string) string, c *config) {
	fs.StringVar(&c.dataDir, "data-dir", envOr(getenv, "VERIFYD_DATA_DIR", ".data"), "directory for the SQLite store and dev credentials (env VERIFYD_DATA_DIR)")
	fs.StringVar(&c.store, "store", getenv("VERIFYD_STORE"), "store DSN: empty for SQLite in -data-dir, or postgres://… (env VERIFYD_STORE)")
}

// parseServe parses the serve command line.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("verifyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: verifyd [flags]\n       verifyd admin COMMAND [flags]   (verifyd admin -help)\n\nFlags (each with an environment twin):\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", envOr(getenv, "VERIFYD_ADDR", "127.0.0.1:8080"), "listen address (env VERIFYD_ADDR)")
	storeFlags(fs, getenv, &c)
	fs.StringVar(&c.publicURL, "public-url", getenv("VERIFYD_PUBLIC_URL"), "base of resource urls, e.g. https://verify.example.com; empty: the request's scheme and host (env VERIFYD_PUBLIC_URL)")
	fs.StringVar(&c.responseValidation, "response-validation", envOr(getenv, "VERIFYD_RESPONSE_VALIDATION", string(api.ResponseValidationEnforce)), "what a response that breaks openapi.yaml gets: enforce (500 and a log line) or log (log only) (env VERIFYD_RESPONSE_VALIDATION)")
	fs.StringVar(&c.logLevel, "log-level", envOr(getenv, "VERIFYD_LOG_LEVEL", "info"), "debug, info, warn or error (env VERIFYD_LOG_LEVEL)")
	fs.StringVar(&c.bootstrap, "bootstrap", getenv("VERIFYD_BOOTSTRAP"), "JSON file of accounts, API keys and services to create on start when missing (env VERIFYD_BOOTSTRAP)")
	fs.BoolVar(&c.allowDevRemote, "allow-dev-remote", envBool(getenv, "VERIFYD_ALLOW_DEV_REMOTE"), "allow dev mode (generated credentials) on a non-loopback address (env VERIFYD_ALLOW_DEV_REMOTE)")
	fs.BoolVar(&c.trustForwardedFor, "trust-forwarded-for", envBool(getenv, "VERIFYD_TRUST_FORWARDED_FOR"), "name clients by the last X-Forwarded-For address (only behind a proxy that appends it) (env VERIFYD_TRUST_FORWARDED_FOR)")
	authLimit := fs.String("auth-failure-limit", envOr(getenv, "VERIFYD_AUTH_FAILURE_LIMIT", "10"), "failed authentications a client may make per -auth-failure-window before 429; negative: no limit (env VERIFYD_AUTH_FAILURE_LIMIT)")
	authWindow := fs.String("auth-failure-window", envOr(getenv, "VERIFYD_AUTH_FAILURE_WINDOW", "1m"), "time over which -auth-failure-limit refills (env VERIFYD_AUTH_FAILURE_WINDOW)")
	bodyLimit := fs.String("body-limit", envOr(getenv, "VERIFYD_BODY_LIMIT", "65536"), "largest request body in bytes (env VERIFYD_BODY_LIMIT)")
	reqTimeout := fs.String("request-timeout", envOr(getenv, "VERIFYD_REQUEST_TIMEOUT", "5s"), "deadline of each request's store calls; past it: 503 (env VERIFYD_REQUEST_TIMEOUT)")
	logFlush := fs.String("log-flush-interval", envOr(getenv, "VERIFYD_LOG_FLUSH_INTERVAL", "100ms"), "how long log lines below warn may wait to be written in a batch; 0: each at once (env VERIFYD_LOG_FLUSH_INTERVAL)")
	shutdown := fs.String("shutdown-timeout", envOr(getenv, "VERIFYD_SHUTDOWN_TIMEOUT", "10s"), "how long shutdown waits for requests in flight (env VERIFYD_SHUTDOWN_TIMEOUT)")
	maxConns := fs.String("max-connections", envOr(getenv, "VERIFYD_MAX_CONNECTIONS", "1024"), "most client connections open at once; more wait in the listen backlog until one closes (env VERIFYD_MAX_CONNECTIONS)")
	hookHosts := fs.String("webhook-hosts", envOr(getenv, "VERIFYD_WEBHOOK_HOSTS", webhook.Loopback), "hosts webhooks may be delivered to: host names, IP addresses and CIDR prefixes, comma-separated; loopback is localhost, 127.0.0.0/8 and ::1 (env VERIFYD_WEBHOOK_HOSTS)")
	hookTimeout := fs.String("webhook-timeout", envOr(getenv, "VERIFYD_WEBHOOK_TIMEOUT", "10s"), "how long a webhook receiver may take to answer; a delivery in flight is kept from other instances for 3 times as long (env VERIFYD_WEBHOOK_TIMEOUT)")
	idle := fs.String("idle-timeout", envOr(getenv, "VERIFYD_IDLE_TIMEOUT", "15s"), "how long an idle keep-alive connection stays open (env VERIFYD_IDLE_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "verifyd: unexpected argument %q\n", fs.Arg(0))
		return c, errUsage
	}
	var err error
	if c.bodyLimit, err = strconv.ParseInt(*bodyLimit, 10, 64); err != nil || c.bodyLimit <= 0 {
		return c, fmt.Errorf("-body-limit: want a positive number of bytes, got %q", *bodyLimit)
	}
	if c.requestTimeout, err = time.ParseDuration(*reqTimeout); err != nil || c.requestTimeout <= 0 {
		return c, fmt.Errorf("-request-timeout: want a positive duration such as 5s, got %q", *reqTimeout)
	}
	if c.logFlushInterval, err = time.ParseDuration(*logFlush); err != nil || c.logFlushInterval < 0 {
		return c, fmt.Errorf("-log-flush-interval: want a duration such as 100ms, or 0, got %q", *logFlush)
	}
	if c.shutdownTimeout, err = time.ParseDuration(*shutdown); err != nil || c.shutdownTimeout <= 0 {
		return c, fmt.Errorf("-shutdown-timeout: want a positive duration such as 10s, got %q", *shutdown)
	}
	if c.maxConnections, err = strconv.Atoi(*maxConns); err != nil || c.maxConnections <= 0 {
		return c, fmt.Errorf("-max-connections: want a positive number, got %q", *maxConns)
	}
	if c.idleTimeout, err = time.ParseDuration(*idle); err != nil || c.idleTimeout <= 0 {
		return c, fmt.Errorf("-idle-timeout: want a positive duration such as 15s, got %q", *idle)
	}
	if c.webhookHosts, err = webhook.ParseHosts(*hookHosts); err != nil {
		return c, fmt.Errorf("-webhook-hosts: %w", err)
	}
	if c.webhookTimeout, err = time.ParseDuration(*hookTimeout); err != nil || c.webhookTimeout <= 0 {
		return c, fmt.Errorf("-webhook-timeout: want a positive duration such as 10s, got %q", *hookTimeout)
	}
	if c.authFailureLimit, err = strconv.Atoi(*authLimit); err != nil || c.authFailureLimit == 0 {
		return c, fmt.Errorf("-auth-failure-limit: want a positive number, or a negative one for no limit, got %q", *authLimit)
	}
	if c.authFailureWindow, err = time.ParseDuration(*authWindow); err != nil || c.authFailureWindow <= 0 {
		return c, fmt.Errorf("-auth-failure-window: want a positive duration such as 1m, got %q", *authWindow)
	}
	switch api.ResponseValidation(c.responseValidation) {
	case api.ResponseValidationEnforce, api.ResponseValidationLog:
	default:
		return c, fmt.Errorf("-response-validation: want enforce or log, got %q", c.responseValidation)
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return c, err
	}
	return c, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("-log-level: want debug, info, warn or error, got %q", s)
	}
	return l, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(getenv func(string) string, key string) bool {
	b, _ := strconv.ParseBool(getenv(key))
	return b
}
