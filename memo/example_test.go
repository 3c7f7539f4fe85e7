package memo_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachekit/cachekit/backend/memory"
	"github.com/cachekit/cachekit/memo"
)

type User struct {
	ID   int64
	Name string
}

func ExampleMemoize() {
	b, _ := memory.New(nil)
	users, _ := memo.New[User](b, &memo.Options{Namespace: "users", TTL: time.Minute})
	defer users.Close()

	calls := 0
	loadUser := func(_ context.Context, id int64) (User, error) {
		calls++ // a slow database query in real life
		return User{ID: id, Name: fmt.Sprint("user-", id)}, nil
	}
	getUser := memo.Memoize(users, loadUser, nil)

	ctx := context.Background()
	for i := 0; i < 3; i++ {
		u, _ := getUser(ctx, 42)
		fmt.Println(u.Name)
	}
	s := users.Stats()
	fmt.Println("loader calls:", calls, "misses:", s.Misses, "hits:", s.HitsBackend)
	// Output:
	// user-42
	// user-42
	// user-42
	// loader calls: 1 misses: 1 hits: 2
}

func ExampleCache_Get() {
	b, _ := memory.New(nil)
	c, _ := memo.New[string](b, &memo.Options{NegativeTTL: time.Minute})
	defer c.Close()
	ctx := context.Background()

	v, err := c.Get(ctx, "greeting", func(context.Context) (string, error) { return "hello", nil })
	fmt.Println(v, err)

	// A loader says "no such key" with memo.ErrNotFound; with NegativeTTL
	// the answer is cached too.
	_, err = c.Get(ctx, "missing", func(context.Context) (string, error) { return "", memo.ErrNotFound })
	fmt.Println(errors.Is(err, memo.ErrNotFound))
	// Output:
	// hello <nil>
	// true
}

func ExampleCache_Invalidate() {
	b, _ := memory.New(nil)
	c, _ := memo.New[int](b, nil)
	defer c.Close()
	ctx := context.Background()

	version := 1
	load := func(context.Context) (int, error) { return version, nil }
	v, _ := c.Get(ctx, "config", load)
	fmt.Println(v)

	version = 2
	_ = c.Invalidate(ctx, "config") // on every node, when the backend has pub/sub
	v, _ = c.Get(ctx, "config", load)
	fmt.Println(v)
	// Output:
	// 1
	// 2
}

func ExampleMemoizeBatch() {
	b, _ := memory.New(nil)
	c, _ := memo.New[string](b, nil)
	defer c.Close()

	var asked [][]int
	names := memo.MemoizeBatch(c, func(_ context.Context, ids []int) (map[int]string, error) {
		asked = append(asked, ids)
		out := map[int]string{}
		for _, id := range ids {
			out[id] = fmt.Sprint("name-", id)
		}
		return out, nil
	}, nil)

	ctx := context.Background()
	_, _ = names(ctx, []int{1, 2})
	got, _ := names(ctx, []int{1, 2, 3}) // only 3 is loaded
	fmt.Println(got[1], got[2], got[3])
	fmt.Println(asked[1])
	// Output:
	// name-1 name-2 name-3
	// [3]
}

func ExampleCache_Peek() {
	b, _ := memory.New(nil)
	c, _ := memo.New[string](b, nil)
	defer c.Close()
	ctx := context.Background()

	_, found, err := c.Peek(ctx, "greeting") // never calls a loader
	fmt.Println(found, err)
	_ = c.Set(ctx, "greeting", "hello")
	v, found, err := c.Peek(ctx, "greeting")
	fmt.Println(v, found, err)
	// Output:
	// false <nil>
	// hello true <nil>
}

func ExampleNewCounter() {
	b, _ := memory.New(nil)
	ctx := context.Background()
	// A counter always expires: 10 minutes after its first Incr here.
	logins, _ := memo.NewCounter(b, "logins:alice", &memo.CounterOptions{Namespace: "auth", TTL: 10 * time.Minute})

	_, _ = logins.Incr(ctx, 1)
	n, _ := logins.Incr(ctx, 1)
	fmt.Println(n)
	n, _ = logins.Decr(ctx, 1)
	fmt.Println(n)
	ttl, _ := logins.TTL(ctx)
	fmt.Println(ttl > 0 && ttl <= 10*time.Minute)
	_ = logins.Reset(ctx)
	n, _ = logins.Get(ctx)
	fmt.Println(n)
	// Output:
	// 2
	// 1
	// true
	// 0
}

func ExampleCache_Expire() {
	b, _ := memory.New(nil)
	c, _ := memo.New[string](b, &memo.Options{TTL: time.Minute})
	defer c.Close()
	ctx := context.Background()

	_ = c.Set(ctx, "report", "…")
	_ = c.Expire(ctx, "report", time.Hour) // keep it in the backend longer
	ttl, _ := c.TTL(ctx, "report")
	fmt.Println(ttl > 59*time.Minute)
	// A cache never leaves a key without expiry.
	fmt.Println(errors.Is(c.Persist(ctx, "report"), memo.ErrNoExpiry))
	// Output:
	// true
	// true
}

func ExampleNewMemoized() {
	b, _ := memory.New(nil)
	users, _ := memo.New[User](b, &memo.Options{Namespace: "users", TTL: time.Minute})
	defer users.Close()
	ctx := context.Background()

	name := "alice"
	getUser := memo.NewMemoized(users, func(_ context.Context, id int64) (User, error) {
		return User{ID: id, Name: name}, nil
	}, nil)

	u, _ := getUser.Get(ctx, 42)
	fmt.Println(u.Name)
	name = "alicia"                 // renamed in the database
	_ = getUser.Invalidate(ctx, 42) // by the typed key, no DefaultKey
	u, _ = getUser.Func()(ctx, 42)  // the plain func Memoize returns
	fmt.Println(u.Name)
	// Output:
	// alice
	// alicia
}

func ExampleOptions_notFound() {
	errNoRows := errors.New("sql: no rows in result set") // sql.ErrNoRows in real life
	b, _ := memory.New(nil)
	c, _ := memo.New[string](b, &memo.Options{
		NegativeTTL: time.Minute,
		NotFound:    func(err error) bool { return errors.Is(err, errNoRows) },
	})
	defer c.Close()
	ctx := context.Background()

	queries := 0
	load := func(context.Context) (string, error) { queries++; return "", errNoRows }
	_, err := c.Get(ctx, "user:7", load)
	fmt.Println(errors.Is(err, memo.ErrNotFound))
	_, err = c.Get(ctx, "user:7", load) // the not-found is cached
	fmt.Println(errors.Is(err, memo.ErrNotFound), queries)
	// Output:
	// true
	// true 1
}
