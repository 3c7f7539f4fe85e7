package memory_test

import (
	"testing"

	"github.com/cachekit/cachekit/backend"
	"github.com/cachekit/cachekit/backend/backendtest"
	"github.com/cachekit/cachekit/backend/memory"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := memory.New(nil)
		if err != nil {
			t.Fatalf("memory.New(nil) error = %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}
