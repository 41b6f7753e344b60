package jsonlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/jsonlog"
)

// both formats r with jsonlog and with slog.JSONHandler.
func both(t testing.TB, opts *slog.HandlerOptions, r slog.Record) (got, want string) {
	t.Helper()
	var a, b bytes.Buffer
	if err := jsonlog.New(&a, opts).Handle(context.Background(), r); err != nil {
		t.Fatalf("jsonlog: %v", err)
	}
	if err := slog.NewJSONHandler(&b, opts).Handle(context.Background(), r); err != nil {
		t.Fatalf("slog: %v", err)
	}
	return a.String(), b.String()
}

func TestSameAsSlog(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 44, 6, 123456789, time.UTC)
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		attrs []slog.Attr
	}{
		{"access log line", slog.LevelInfo, "request", []slog.Attr{
			slog.String("request_id", "RQ0123456789abcdef0123456789abcdef"),
			slog.String("method", "GET"),
			slog.String("path", "/v2/Services/VA0123456789abcdef0123456789abcdef/AccessTokens/YK0123456789abcdef0123456789abcdef"),
			slog.Int("status", 200),
			slog.Int64("duration_us", 17),
		}},
		{"no attributes", slog.LevelWarn, "shutting down", nil},
		{"escapes", slog.LevelError, "a \"quoted\" \\ line\n\r\t\x00\x1f\x7f", []slog.Attr{
			slog.String("path", "/a b/\u2028\u2029/\xff\xfe/é/😀/<script>&"),
			slog.String("k\"ey", "v"),
		}},
		{"other integer kinds and bools", slog.LevelDebug, "x", []slog.Attr{
			slog.Uint64("u", 1<<63), slog.Int64("n", -1<<63), slog.Bool("t", true), slog.Bool("f", false),
		}},
		{"custom level", slog.LevelInfo + 2, "x", nil},
		{"duplicate keys", slog.LevelInfo, "x", []slog.Attr{slog.String("a", "1"), slog.String("a", "2")}},
		{"more than five attributes", slog.LevelInfo, "x", []slog.Attr{
			slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6),
		}},
		// The general path: kinds and shapes the fast path leaves to slog.
		{"float", slog.LevelInfo, "x", []slog.Attr{slog.Float64("f", 1.5)}},
		{"duration", slog.LevelInfo, "x", []slog.Attr{slog.Duration("d", time.Second)}},
		{"time", slog.LevelInfo, "x", []slog.Attr{slog.Time("t", at)}},
		{"group", slog.LevelInfo, "x", []slog.Attr{slog.Group("g", slog.Int("a", 1))}},
		{"error value", slog.LevelInfo, "x", []slog.Attr{slog.Any("err", io.EOF)}},
		{"empty key", slog.LevelInfo, "x", []slog.Attr{slog.String("", "v"), slog.Any("", nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := slog.NewRecord(at, tt.level, tt.msg, 0)
			r.AddAttrs(tt.attrs...)
			got, want := both(t, nil, r)
			if got != want {
				t.Errorf("jsonlog wrote\n%s\nslog wrote\n%s", got, want)
			}
		})
	}
}

func TestTimesAsSlog(t *testing.T) {
	for _, at := range []time.Time{
		{},
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 18, 44, 6, 0, time.FixedZone("", 5*3600+30*60)),
		time.Now(), // with a monotonic reading, which neither prints
	} {
		r := slog.NewRecord(at, slog.LevelInfo, "x", 0)
		r.AddAttrs(slog.String("a", "b"))
		if got, want := both(t, nil, r); got != want {
			t.Errorf("time %v: jsonlog wrote\n%s\nslog wrote\n%s", at, got, want)
		}
	}
}

func TestOptionsSlogAppliesStillApply(t *testing.T) {
	r := slog.NewRecord(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("secret", "s3cr3t"), slog.Int("status", 200))
	opts := &slog.HandlerOptions{
		AddSource: true,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "secret" {
				return slog.String("secret", "REDACTED")
			}
			return a
		},
	}
	got, want := both(t, opts, r)
	if got != want || !strings.Contains(got, "REDACTED") {
		t.Errorf("jsonlog wrote\n%s\nslog wrote\n%s", got, want)
	}

	var buf bytes.Buffer
	h := jsonlog.New(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled does not follow HandlerOptions.Level")
	}
}

func TestDerivedHandlers(t *testing.T) {
	h := jsonlog.New(io.Discard, nil)
	if h.WithAttrs(nil) != slog.Handler(h) || h.WithGroup("") != slog.Handler(h) {
		t.Error("WithAttrs(nil) and WithGroup(\"\") should return the handler itself")
	}
}

func TestDerivedLoggersWriteAsSlog(t *testing.T) {
	var a, b bytes.Buffer
	mine := slog.New(jsonlog.New(&a, nil)).With("component", "store").WithGroup("g")
	theirs := slog.New(slog.NewJSONHandler(&b, nil)).With("component", "store").WithGroup("g")
	mine.Info("x", "n", 1)
	theirs.Info("x", "n", 1)
	// The time differs; compare what follows it.
	_, got, _ := strings.Cut(a.String(), `","level"`)
	_, want, _ := strings.Cut(b.String(), `","level"`)
	if got == "" || got != want {
		t.Errorf("jsonlog wrote %s, slog wrote %s", a.String(), b.String())
	}
}

// TestConcurrentLinesStayWhole writes from many goroutines, through both
// paths, to a writer that is not safe for concurrent use.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(jsonlog.New(&buf, nil))
	const goroutines, lines = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				if i%2 == 0 {
					log.Info("fast", "g", g, "i", i, "path", strings.Repeat("x", 100))
				} else {
					log.Info("slow", "g", g, "i", i, "f", 0.5)
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for line := range strings.Lines(buf.String()) {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d is not whole JSON: %v: %q", n, err, line)
		}
		n++
	}
	if n != goroutines*lines {
		t.Errorf("%d lines, want %d", n, goroutines*lines)
	}
}

func FuzzSameAsSlog(f *testing.F) {
	f.Add("request", "path", "/v2/Services/VA0123456789abcdef0123456789abcdef", int64(200), uint64(7), true, int64(1764121446123456789), 0)
	f.Add("a\"b\\c\n", "k\x00", "\xff\u2028<>&", int64(-1), uint64(0), false, int64(0), 4)
	f.Add("x", "k", "v", int64(0), uint64(0), false, int64(1764121446000000000), 19800)
	f.Fuzz(func(t *testing.T, msg, key, value string, n int64, u uint64, b bool, unixNano int64, level int) {
		// The zone offset, from -24h to +24h in whole seconds, follows from
		// the level so that the corpus stays small.
		zone := time.FixedZone("", level%(24*3600))
		r := slog.NewRecord(time.Unix(0, unixNano).In(zone), slog.Level(level), msg, 0)
		r.AddAttrs(slog.String(key, value), slog.Int64(key+"n", n), slog.Uint64("u", u), slog.Bool(value, b))
		if got, want := both(t, nil, r); got != want {
			t.Errorf("jsonlog wrote\n%q\nslog wrote\n%q", got, want)
		}
	})
}

// accessRecord is the access log line verifyd writes per request.
func accessRecord() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("request_id", "RQ0123456789abcdef0123456789abcdef"),
		slog.String("method", "GET"),
		slog.String("path", "/v2/Services/VA0123456789abcdef0123456789abcdef/AccessTokens/YK0123456789abcdef0123456789abcdef"),
		slog.Int("status", 200),
		slog.Int64("duration_us", 17),
	)
	return r
}

// BenchmarkAccessLine compares the fast path with slog.JSONHandler, which
// is the baseline of the same run.
func BenchmarkAccessLine(b *testing.B) {
	r := accessRecord()
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog.JSONHandler", slog.NewJSONHandler(io.Discard, nil)},
		{"jsonlog", jsonlog.New(io.Discard, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.h.Handle(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
