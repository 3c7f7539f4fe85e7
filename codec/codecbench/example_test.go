package codecbench_test

import (
	"fmt"
	"time"

	"github.com/cachekit/cachekit/codec/codecbench"
)

// Order is the kind of value an application caches.
type Order struct {
	ID     int64
	Placed time.Time
	Lines  []string
	Attrs  map[string]any // JSON turns the big uint64 below into a float64
}

func ExampleCompare() {
	var orders []Order
	for i := range 20 {
		orders = append(orders, Order{
			ID:     int64(i),
			Placed: time.Date(2025, 6, 1, 12, 0, i, 0, time.UTC),
			Lines:  []string{"book", "pen", "lamp"},
			Attrs:  map[string]any{"trace": uint64(1<<60 + 1)},
		})
	}
	rep, err := codecbench.Compare(orders, &codecbench.Options{Time: 100 * time.Millisecond, Repeats: 3})
	if err != nil {
		panic(err)
	}
	for _, res := range rep.Results {
		if res.OK() {
			fmt.Println(res.Name(), "ok")
		} else {
			fmt.Println(res.Name(), res.Err)
		}
	}
	// rep.WriteTable(os.Stdout) prints the figures with the recommendation;
	// rep.WriteSVG(f) charts them.
	// Output:
	// msgpack+none ok
	// msgpack+s2 ok
	// msgpack+zstd ok
	// json+none loses data (sample 0): .Attrs[trace]: 1.152921504606847e+18 (float64), want 1152921504606846977 (uint64)
	// json+s2 loses data (sample 0): .Attrs[trace]: 1.152921504606847e+18 (float64), want 1152921504606846977 (uint64)
	// json+zstd loses data (sample 0): .Attrs[trace]: 1.152921504606847e+18 (float64), want 1152921504606846977 (uint64)
	// gob+none ok
	// gob+s2 ok
	// gob+zstd ok
}
