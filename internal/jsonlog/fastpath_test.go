package jsonlog

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestFastPathTaken pins which records the fast path formats, so that a
// change sending everything to slog.JSONHandler (still correct, but slow)
// fails here rather than passing every output comparison.
func TestFastPathTaken(t *testing.T) {
	at := time.Date(2026, 11, 25, 18, 44, 6, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		attr []slog.Attr
		fast bool
	}{
		{"access log line", at, []slog.Attr{slog.String("request_id", "RQ0"), slog.String("method", "GET"), slog.Int("status", 200), slog.Int64("duration_us", 9)}, true},
		{"no attributes", at, nil, true},
		{"uint and bool", at, []slog.Attr{slog.Uint64("u", 1), slog.Bool("b", true)}, true},
		{"zone offset", at.In(time.FixedZone("", 3600)), []slog.Attr{slog.String("a", "b")}, true},
		{"float", at, []slog.Attr{slog.Float64("f", 1)}, false},
		{"duration", at, []slog.Attr{slog.Duration("d", 1)}, false},
		{"group", at, []slog.Attr{slog.Group("g", slog.Int("a", 1))}, false},
		{"any", at, []slog.Attr{slog.Any("err", io.EOF)}, false},
		{"empty key", at, []slog.Attr{slog.String("", "v")}, false},
		{"zero time", time.Time{}, nil, false},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil, false},
	}
	for _, tt := range tests {
		r := slog.NewRecord(tt.at, slog.LevelInfo, "m", 0)
		r.AddAttrs(tt.attr...)
		if _, ok := appendRecord(nil, r); ok != tt.fast {
			t.Errorf("%s: fast path %v, want %v", tt.name, ok, tt.fast)
		}
	}
	if h := New(io.Discard, &slog.HandlerOptions{AddSource: true}); h.fast {
		t.Error("AddSource: the fast path is on, want it off")
	}
	if h := New(io.Discard, nil); !h.fast {
		t.Error("default options: the fast path is off")
	}
}
