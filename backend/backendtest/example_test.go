package backendtest_test

import (
	"testing"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/backendtest"
	"github.com/cachekit/cachekit/backend/memory"
)

// ExampleRun shows the conformance test a backend implementation adds to
// its own tests.
func ExampleRun() {
	// In mybackend_test.go:
	_ = func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			b, err := memory.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		})
	}
}
