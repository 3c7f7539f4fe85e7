package cachekitstore_test

import (
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/cachekit/cachekit/backend/memory"
	cachekitstore "github.com/cachekit/cachekit/extra/scs"
)

func ExampleNew() {
	b, _ := memory.New(nil) // or goredis.New(redisClient, nil)
	store, _ := cachekitstore.New(b, nil)
	sessions := scs.New()
	sessions.Store = store // sessions.LoadAndSave(mux) then reads and writes through it
	sessions.Lifetime = 24 * time.Hour
	fmt.Println(sessions.Store != nil)
	// Output: true
}
