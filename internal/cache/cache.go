// Package cache is a small bounded map for values that are pure functions
// of their keys, such as immutable database rows. It never needs
// invalidation, only a bound on memory.
package cache

import "sync"

// Cache holds at most about max entries. It keeps two generations: new
// entries go to the current one, and when that is half full it becomes the
// previous one and the old previous is dropped. Hits in the previous
// generation move back to the current one, so what is used stays.
type Cache[K comparable, V any] struct {
	mu   sync.Mutex
	half int
	cur  map[K]V
	prev map[K]V
}

// New returns a cache bounded to about max entries (at least 2).
func New[K comparable, V any](max int) *Cache[K, V] {
	half := max / 2
	if half < 1 {
		half = 1
	}
	return &Cache[K, V]{half: half, cur: make(map[K]V, half)}
}

// Get returns the value stored for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		c.putLocked(k, v)
	}
	return v, ok
}

// Put stores v for k.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *Cache[K, V]) putLocked(k K, v V) {
	if len(c.cur) >= c.half {
		c.prev = c.cur
		c.cur = make(map[K]V, c.half)
	}
	c.cur[k] = v
}

// Len returns the number of entries held, for tests and metrics.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.cur)
	for k := range c.prev {
		if _, dup := c.cur[k]; !dup {
			n++
		}
	}
	return n
}
