// Package jsonlog is slog's JSON handler with a fast path for flat records.
//
// verifyd writes one access log line per request, and slog.JSONHandler
// spent a fifth of a fetch's CPU on it: its general attribute walk,
// per-record state and key escaping. Most records, the access log line
// among them, are flat: a message and a few string, integer or boolean
// attributes. Handler formats those itself, with output byte for byte
// equal to slog.JSONHandler's (FuzzSameAsSlog holds it to that), and hands
// every other record to a slog.JSONHandler writing to the same writer.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler is a slog.Handler that writes JSON lines exactly as
// slog.JSONHandler does. It is safe for concurrent use; each record is
// one Write to the underlying writer.
type Handler struct {
	slow *slog.JSONHandler
	out  *lockedWriter
	// fast is false when an option changes the output in ways only
	// slog.JSONHandler knows (ReplaceAttr, AddSource).
	fast bool
	bufs *sync.Pool
}

// New returns a Handler writing to w with opts, as slog.NewJSONHandler
// would; opts may be nil.
func New(w io.Writer, opts *slog.HandlerOptions) *Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	out := &lockedWriter{w: w}
	return &Handler{
		slow: slog.NewJSONHandler(out, opts),
		out:  out,
		fast: opts.ReplaceAttr == nil && !opts.AddSource,
		bufs: &sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }},
	}
}

// Enabled reports whether records at level are written.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.slow.Enabled(ctx, level)
}

// Handle writes r as one JSON line.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.slow.Handle(ctx, r)
	}
	bp := h.bufs.Get().(*[]byte)
	buf, ok := appendRecord((*bp)[:0], r)
	var err error
	if ok {
		_, err = h.out.Write(buf)
	} else {
		err = h.slow.Handle(ctx, r)
	}
	// Keep ordinary buffers only, so that one huge line does not pin
	// its memory in the pool.
	if cap(buf) <= maxPooled {
		*bp = buf
		h.bufs.Put(bp)
	}
	return err
}

const maxPooled = 16 << 10

// WithAttrs returns slog.JSONHandler's handler with attrs: records of a
// derived logger take the general path. Without attrs it returns h.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.slow.WithAttrs(attrs)
}

// WithGroup returns slog.JSONHandler's handler with the group opened; for
// an empty name it returns h, as the slog.Handler contract asks.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.slow.WithGroup(name)
}

// appendRecord appends r as slog.JSONHandler formats it. It reports
// false, leaving buf to be discarded, for what only slog.JSONHandler
// formats: a time it cannot print, an empty key, or a value that is not a
// string, an integer or a boolean.
func appendRecord(buf []byte, r slog.Record) ([]byte, bool) {
	if r.Time.IsZero() {
		return buf, false
	}
	if y := r.Time.Year(); y < 0 || y >= 10000 {
		return buf, false
	}
	buf = append(buf, `{"time":"`...)
	buf = r.Time.Round(0).AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","level":`...)
	buf = appendString(buf, r.Level.String())
	buf = append(buf, `,"msg":`...)
	buf = appendString(buf, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false
			return false
		}
		buf = append(buf, ',')
		buf = appendString(buf, a.Key)
		buf = append(buf, ':')
		switch v := a.Value; v.Kind() {
		case slog.KindString:
			buf = appendString(buf, v.String())
		case slog.KindInt64:
			buf = strconv.AppendInt(buf, v.Int64(), 10)
		case slog.KindUint64:
			buf = strconv.AppendUint(buf, v.Uint64(), 10)
		case slog.KindBool:
			buf = strconv.AppendBool(buf, v.Bool())
		default:
			ok = false
		}
		return ok
	})
	return append(buf, '}', '\n'), ok
}

// appendString appends s as a JSON string, escaped as slog.JSONHandler
// escapes it: quotes, backslashes and control characters, invalid UTF-8
// as U+FFFD, U+2028 and U+2029; not HTML.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if plain[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// plain holds the bytes that appendString copies as they are: printable
// ASCII but the quote and the backslash. A lookup table keeps the loop
// over the common case to one load and one branch per byte.
var plain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// lockedWriter serialises the writes of both paths, so that lines never
// interleave even when the underlying writer is not safe for concurrent
// use.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
