// Package observe is the stage of verifyd's chain that records each
// request once it has its answer: one access log line (slog) and the
// Prometheus metrics, labelled by the spec's operationId.
package observe

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/verifykit/verifykit/internal/scope"
)

// Observer writes the access log and keeps the metrics of one handler, in
// a registry of its own, so that handlers (tests, instances) share nothing.
type Observer struct {
	log       *slog.Logger
	operation func(echo.Context) string
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	resolved  sync.Map // seriesKey → series
}

// New returns an Observer that logs to log and names each request's
// operation with operation ("" for none).
func New(log *slog.Logger, operation func(echo.Context) string) *Observer {
	o := &Observer{
		log:       log,
		operation: operation,
		registry:  prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifyd_requests_total",
			Help: "HTTP requests served, by operationId (or \"none\") and status.",
		}, []string{"operation", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "verifyd_request_duration_seconds",
			Help:    "Time to serve a request, by operationId.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
	}
	o.registry.MustRegister(o.requests, o.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return o
}

// Register adds more metrics to the registry /metrics serves.
func (o *Observer) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := o.registry.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Metrics serves the metrics in Prometheus's text format.
func (o *Observer) Metrics() http.Handler {
	return promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{})
}

// Middleware is the observe stage as echo middleware. It renders an error
// of the stages after it (echo's HTTPErrorHandler), so that what it
// records is the status actually sent.
func (o *Observer) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			panicking := true
			defer func() {
				status := c.Response().Status
				if panicking {
					// The recover stage, outside this one, sends a 500.
					status = http.StatusInternalServerError
				}
				o.record(c, status, start)
			}()
			if err := next(c); err != nil {
				c.Error(err)
			}
			panicking = false
			return nil
		}
	}
}

// record writes the access log line and the metrics of one request.
func (o *Observer) record(c echo.Context, status int, start time.Time) {
	end := time.Now()
	elapsed := end.Sub(start)
	op := o.operation(c)
	if op == "" {
		op = "none"
	}
	s := o.series(op, status)
	s.requests.Inc()
	s.duration.Observe(elapsed.Seconds())

	r := c.Request()
	ctx := r.Context()
	h := o.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	// The record goes to the handler as slog.Logger would send it, but
	// without the lookup of the caller, which the line does not show.
	rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("request_id", scope.From(ctx).ID),
		slog.String("method", truncate(r.Method, maxMethod)),
		slog.String("path", truncate(r.URL.Path, maxPath)),
		slog.Int("status", status),
		slog.Int64("duration_us", elapsed.Microseconds()),
	)
	_ = h.Handle(ctx, rec) // a handler that cannot write has nowhere to say so
}

// seriesKey names the metric series of one operation and status.
type seriesKey struct {
	operation string
	status    int
}

// series are the metric children of one operation and status.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// series returns the children of op and status, resolved once: operations
// come from the spec and statuses from the server, so there are few.
func (o *Observer) series(op string, status int) series {
	key := seriesKey{op, status}
	if s, ok := o.resolved.Load(key); ok {
		return s.(series)
	}
	s := series{
		requests: o.requests.WithLabelValues(op, strconv.Itoa(status)),
		duration: o.duration.WithLabelValues(op),
	}
	o.resolved.Store(key, s)
	return s
}

// The method and path come from the client: the log cuts them at these
// lengths so that a line stays one readable line.
const (
	maxMethod = 32
	maxPath   = 2048
)

// truncate cuts s to n bytes, at a rune boundary, and says how much it
// left out.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[truncated " + strconv.Itoa(len(s)-cut) + " bytes]"
}
