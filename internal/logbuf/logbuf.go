// Package logbuf batches log output: a busy server would otherwise make
// one write system call per access log line, which costs it more than
// formatting the line. Lines wait at most one flush interval, and a line
// that should not wait (a warning or an error) is written at once.
package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer buffers writes to an underlying writer and flushes them every
// interval, when the buffer fills, on Flush and on Close. It is safe for
// concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	buf    *bufio.Writer
	closed bool // after Close, writes go straight through
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// New returns a Writer over w that flushes at least every interval, with a
// buffer of size bytes. Close it to flush the rest and stop its goroutine.
func New(w io.Writer, size int, interval time.Duration) *Writer {
	b := &Writer{w: w, buf: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

func (b *Writer) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write buffers p. Lines are never split between flushes as long as each
// is written with one call and fits the buffer, which slog's handlers do.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if len(p) > b.buf.Available() && b.buf.Buffered() > 0 {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return b.buf.Write(p)
}

// Flush writes what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

// flushLocked writes what is buffered. A failed write loses what was
// buffered, as unbuffered writes would have lost those lines, but not the
// lines that come after it: bufio.Writer would keep the error forever.
func (b *Writer) flushLocked() error {
	err := b.buf.Flush()
	if err != nil {
		b.buf.Reset(b.w)
	}
	return err
}

// Close stops the periodic flush and flushes what is left; later writes,
// such as those of requests still running, go straight through. Calling
// Close again does nothing.
func (b *Writer) Close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		err = b.flushLocked()
		b.closed = true
	})
	return err
}

// Handler returns h, made to flush w after every record at or above level,
// so that warnings and errors are never held back.
func Handler(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return &flushing{Handler: h, w: w, level: level}
}

type flushing struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (f *flushing) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= f.level {
		if ferr := f.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f *flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &flushing{Handler: f.Handler.WithAttrs(attrs), w: f.w, level: f.level}
}

func (f *flushing) WithGroup(name string) slog.Handler {
	return &flushing{Handler: f.Handler.WithGroup(name), w: f.w, level: f.level}
}
