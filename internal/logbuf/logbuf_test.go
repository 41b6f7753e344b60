package logbuf_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/logbuf"
)

// syncBuffer is a bytes.Buffer that counts the writes it gets.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *syncBuffer) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

func TestBatchesAndFlushesOnClose(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 4096, time.Hour)
	for range 10 {
		if _, err := w.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := out.snapshot(); got != "" {
		t.Fatalf("before any flush, underlying writer got %q, want nothing", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	if got != strings.Repeat("line\n", 10) || writes != 1 {
		t.Errorf("after Close: %q in %d writes, want 10 lines in 1", got, writes)
	}
}

func TestFlushesEveryInterval(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 4096, 10*time.Millisecond)
	defer w.Close()
	if _, err := w.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not flushed within 5s with a 10ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullBufferFlushesWholeLines(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 16, time.Hour)
	defer w.Close()
	for _, line := range []string{"0123456789\n", "abcdefghij\n", "a line longer than the buffer\n"} {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := out.snapshot()
	if got != "0123456789\nabcdefghij\na line longer than the buffer\n" {
		t.Errorf("underlying writer got %q, want the first lines whole", got)
	}
}

func TestHandlerFlushesWarnings(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 4096, time.Hour)
	defer w.Close()
	log := slog.New(logbuf.Handler(slog.NewJSONHandler(w, nil), w, slog.LevelWarn)).With("component", "test")
	log.Info("held")
	if got, _ := out.snapshot(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.Warn("urgent")
	got, _ := out.snapshot()
	if !strings.Contains(got, `"msg":"held"`) || !strings.Contains(got, `"msg":"urgent"`) || !strings.Contains(got, `"component":"test"`) {
		t.Errorf("after a warning, underlying writer got %q, want both lines", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	var out syncBuffer
	w := logbuf.New(&out, 64<<10, 100*time.Millisecond)
	defer w.Close()
	line := []byte(`{"time":"2026-11-25T18:44:07.415Z","level":"INFO","msg":"request","status":200}` + "\n")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = w.Write(line)
	}
}

// failingWriter fails its first write, then works.
type failingWriter struct {
	syncBuffer
	failed bool
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("disk full")
	}
	return f.syncBuffer.Write(p)
}

func TestRecoversFromAFailedWrite(t *testing.T) {
	var out failingWriter
	w := logbuf.New(&out, 4096, time.Hour)
	_, _ = w.Write([]byte("lost\n"))
	if err := w.Flush(); err == nil {
		t.Fatal("Flush after a failing write = nil, want the error")
	}
	_, _ = w.Write([]byte("kept\n"))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after the writer recovered = %v, want nil", err)
	}
	if got, _ := out.snapshot(); got != "kept\n" {
		t.Errorf("underlying writer got %q, want the line after the failure", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWritesAfterCloseGoThrough(t *testing.T) {
	var out syncBuffer
	w := logbuf.New(&out, 4096, time.Hour)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := w.Write([]byte("late\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); got != "late\n" {
		t.Errorf("a write after Close left %q, want it written at once", got)
	}
}
