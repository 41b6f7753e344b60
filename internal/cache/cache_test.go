package cache_test

import (
	"sync"
	"testing"

	"github.com/verifykit/verifykit/internal/cache"
)

func TestGetPut(t *testing.T) {
	c := cache.New[string, int](4)
	if _, ok := c.Get("a"); ok {
		t.Errorf("Get(a) on an empty cache found a value")
	}
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Errorf("Get(a) = %d, %v; want 1, true", v, ok)
	}
}

func TestBounded(t *testing.T) {
	const max = 10
	c := cache.New[int, int](max)
	for i := range 1000 {
		c.Put(i, i)
		if n := c.Len(); n > max {
			t.Fatalf("after %d puts Len() = %d, want at most %d", i+1, n, max)
		}
	}
	if _, ok := c.Get(999); !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, ok := c.Get(0); ok {
		t.Errorf("the oldest entry is still held after 1000 puts into a cache of %d", max)
	}
}

// TestRecentlyUsedStays: an entry read in every round survives rounds of
// new entries that would otherwise push it out.
func TestRecentlyUsedStays(t *testing.T) {
	c := cache.New[int, int](4)
	c.Put(-1, -1)
	for i := range 100 {
		c.Put(i, i)
		if _, ok := c.Get(-1); !ok {
			t.Fatalf("hot entry evicted after %d puts", i+1)
		}
	}
}

func TestConcurrent(t *testing.T) {
	c := cache.New[int, int](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				c.Put(g*1000+i, i)
				if v, ok := c.Get(g*1000 + i); ok && v != i {
					t.Errorf("Get(%d) = %d, want %d", g*1000+i, v, i)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Errorf("Len() = %d, want at most 64", n)
	}
}
