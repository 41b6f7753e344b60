package validate

import (
	"errors"
	"hash/maphash"
	"strings"
	"testing"
)

// TestMemoExact: a verdict is given only for exactly the input it was
// reached on, even when another input lands on its entry.
func TestMemoExact(t *testing.T) {
	m := newMemo(16)
	a, b := m.input(), m.input()
	a.field("GET")
	a.field("VAaaaa")
	b.field("GET")
	b.field("VAaaab")
	invalid := errors.New("invalid")
	m.add(a, invalid)
	if v, ok := m.get(a); !ok || !errors.Is(v, invalid) {
		t.Fatalf("get(a) = %v, %v; want the verdict added", v, ok)
	}
	if _, ok := m.get(b); ok {
		t.Fatal("get(b) found a verdict; none was added for b")
	}
	// Plant a's entry under b's hash, as a hash collision would.
	e, _ := m.verdicts.Get(maphash.Bytes(m.seed, a.b))
	m.verdicts.Add(maphash.Bytes(m.seed, b.b), e)
	if v, ok := m.get(b); ok {
		t.Errorf("get(b) after a collision = %v; want no verdict, as b was never judged", v)
	}
}

// TestMemoFields: inputs whose fields differ only in where they split
// are different inputs.
func TestMemoFields(t *testing.T) {
	m := newMemo(16)
	a, b := m.input(), m.input()
	a.field("ab")
	a.field("c")
	b.field("a")
	b.field("bc")
	m.add(a, nil)
	if _, ok := m.get(b); ok {
		t.Error(`the input ("a", "bc") took the verdict of ("ab", "c")`)
	}
}

// TestMemoBounded: a memo holds at most its entries, each at most
// maxMemoInput bytes; a larger input is never kept.
func TestMemoBounded(t *testing.T) {
	m := newMemo(64)
	big := m.input()
	big.field(strings.Repeat("x", maxMemoInput))
	m.add(big, nil)
	if _, ok := m.get(big); ok {
		t.Error("an input over maxMemoInput was kept")
	}
	for i := range 1000 {
		in := m.input()
		in.field(strings.Repeat("y", i%100))
		in.field(strings.Repeat("z", i))
		m.add(in, nil)
	}
	if n := m.verdicts.Len(); n > 64 {
		t.Errorf("memo holds %d entries, want at most 64", n)
	}
	var bytes int
	for _, k := range m.verdicts.Keys() {
		e, _ := m.verdicts.Peek(k)
		bytes += len(e.input)
	}
	if bytes > 64*maxMemoInput {
		t.Errorf("memo holds %d bytes of inputs, want at most %d", bytes, 64*maxMemoInput)
	}
}
