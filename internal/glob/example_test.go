package glob_test

import (
	"fmt"

	"github.com/cachekit/cachekit/internal/glob"
)

func ExampleMatch() {
	fmt.Println(glob.Match("user:*", "user:1/posts")) // Redis '*' matches '/'
	fmt.Println(glob.Match("user:[12]", "user:2"))
	fmt.Println(glob.Match("user:[", "user:["))  // a malformed set matches nothing
	fmt.Println(glob.Match(`user:\*`, "user:*")) // escaped: a literal '*'
	// Output:
	// true
	// true
	// false
	// true
}
