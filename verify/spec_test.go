package verify_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The contract's examples are what the test servers answer, and what the
// request bodies are checked against, so that a change to openapi.yaml
// that the client does not follow fails here.

var spec = sync.OnceValues(func() (map[string]any, error) {
	b, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	return doc, nil
})

// specAt returns the node of openapi.yaml at the path of keys.
func specAt(t *testing.T, keys ...string) any {
	t.Helper()
	doc, err := spec()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var node any = doc
	for _, k := range keys {
		m, ok := node.(map[string]any)
		if !ok {
			t.Fatalf("openapi.yaml: no %q in %v", k, keys)
		}
		node = m[k]
	}
	if node == nil {
		t.Fatalf("openapi.yaml: nothing at %v", keys)
	}
	return node
}

// exampleJSON returns components.examples.name.value of openapi.yaml as
// JSON.
func exampleJSON(t *testing.T, name string) string {
	t.Helper()
	b, err := json.Marshal(specAt(t, "components", "examples", name, "value"))
	if err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
	return string(b)
}

// example returns components.examples.name.value of openapi.yaml decoded
// into a T.
func example[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(exampleJSON(t, name)), &v); err != nil {
		t.Fatalf("example %s: %v", name, err)
	}
	return v
}

// formExample returns the named example of the form body of the operation
// at path and method in openapi.yaml.
func formExample(t *testing.T, path, method, name string) map[string]any {
	t.Helper()
	keys := []string{"paths", path, method, "requestBody", "content", "application/x-www-form-urlencoded", "example"}
	if name != "" {
		keys = append(keys[:len(keys)-1], "examples", name, "value")
	}
	m, ok := specAt(t, keys...).(map[string]any)
	if !ok {
		t.Fatalf("openapi.yaml: %v is not an object", keys)
	}
	return m
}
