package benchmarks

import (
	"testing"

	"github.com/cachekit/cachekit/backend/goredis"
)

func BenchmarkZZRanged(b *testing.B) {
	goredis.UseRanged = true
	defer func() { goredis.UseRanged = false }()
	BenchmarkGetManyInterleaved(b)
}

func BenchmarkZZRangedAllocs(b *testing.B) {
	goredis.UseRanged = true
	defer func() { goredis.UseRanged = false }()
	BenchmarkGetMany(b)
}
