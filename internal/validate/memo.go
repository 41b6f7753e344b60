package validate

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Bounds of the memos: entries per memo, and the largest input memoized.
// A memo holds at most defaultMemoEntries × maxMemoInput bytes of inputs
// (4 MiB); larger inputs are judged by kin-openapi every time.
const (
	defaultMemoEntries = 2048
	maxMemoInput       = 2 << 10
)

// memo remembers kin-openapi's verdicts (nil, or the error) on inputs,
// each input being every byte its verdict depends on, written one field
// after another (input). Verdicts are pure functions of their inputs, so
// an entry never goes stale; the LRU only bounds memory.
//
// Entries are found by a hash of the input and confirmed by comparing the
// whole input, so that a verdict is only ever given for exactly the input
// it was reached on, and a lookup copies nothing.
type memo struct {
	seed     maphash.Seed
	verdicts *lru.Cache[uint64, *memoEntry]
	inputs   sync.Pool // of *input, scratch for building one
}

type memoEntry struct {
	input   []byte
	verdict error
}

func newMemo(entries int) *memo {
	c, _ := lru.New[uint64, *memoEntry](entries) // fails only for a size below 1
	m := &memo{seed: maphash.MakeSeed(), verdicts: c}
	m.inputs.New = func() any { return &input{} }
	return m
}

// input is the bytes a verdict depends on, fields length-prefixed so that
// no two different inputs read the same.
type input struct{ b []byte }

func (m *memo) input() *input {
	in := m.inputs.Get().(*input)
	in.b = in.b[:0]
	return in
}

func (m *memo) release(in *input) {
	if cap(in.b) <= 4*maxMemoInput {
		m.inputs.Put(in)
	}
}

func (in *input) field(s string) {
	in.b = strconv.AppendInt(in.b, int64(len(s)), 10)
	in.b = append(in.b, ':')
	in.b = append(in.b, s...)
}

func (in *input) fieldBytes(p []byte) {
	in.b = strconv.AppendInt(in.b, int64(len(p)), 10)
	in.b = append(in.b, ':')
	in.b = append(in.b, p...)
}

// get returns the verdict reached on in, if any.
func (m *memo) get(in *input) (verdict error, ok bool) { //nolint:revive // the error is the verdict, the value looked up

	e, ok := m.verdicts.Get(maphash.Bytes(m.seed, in.b))
	if !ok || !bytes.Equal(e.input, in.b) {
		return nil, false
	}
	return e.verdict, true
}

// add remembers verdict for in, unless in is too large to keep.
func (m *memo) add(in *input, verdict error) {
	if len(in.b) <= maxMemoInput {
		m.verdicts.Add(maphash.Bytes(m.seed, in.b), &memoEntry{input: bytes.Clone(in.b), verdict: verdict})
	}
}
