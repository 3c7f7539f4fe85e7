package memo

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Errors returned by a [Cache].
var (
	// ErrNotFound is returned by a loader to say the key has no value. The
	// Cache passes it on to callers and, with Options.NegativeTTL, caches
	// the answer. Other loader errors are never cached.
	ErrNotFound = errors.New("memo: not found")

	// ErrLoaderPanic is returned to every caller waiting on a load that
	// panicked. The error is a *[PanicError] carrying the value and stack.
	ErrLoaderPanic = errors.New("memo: loader panicked")

	// ErrClosed is returned by operations on a closed Cache.
	ErrClosed = errors.New("memo: cache closed")

	// ErrBackendUnavailable is returned, with Options.FailClosed, instead
	// of loading when the backend cannot answer within the caller's budget.
	// The error also wraps the cause (the backend's error, or
	// context.DeadlineExceeded when the caller's context ended).
	ErrBackendUnavailable = errors.New("memo: backend unavailable")

	// ErrEvictionPolicy is wrapped by the error [New] returns, with
	// Options.StrictEviction, when a backend server can evict keys
	// (maxmemory set and maxmemory-policy other than noeviction).
	ErrEvictionPolicy = errors.New("memo: backend can evict keys")

	errBreakerOpen = errors.New("memo: backend circuit breaker open")
	errBackendSlow = errors.New("memo: backend did not answer within the caller's share of its budget")
	// errReadPanicked is what the callers that joined a backend read get
	// when it panicked (the panic goes on in the caller that ran it, or is
	// logged when a goroutine of the readers ran it).
	errReadPanicked = errors.New("memo: backend read panicked")
	// errBackendPanicked is the failure the breaker records for a backend
	// call that panicked (the panic itself goes on to its caller).
	errBackendPanicked = errors.New("memo: backend call panicked")
)

// PanicError is the error for a loader that panicked. It wraps
// [ErrLoaderPanic].
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the loader goroutine's stack at the panic
}

// Error returns the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("memo: loader panicked: %v\n%s", e.Value, e.Stack)
}

// Unwrap returns ErrLoaderPanic.
func (e *PanicError) Unwrap() error { return ErrLoaderPanic }

// safely runs f, turning a panic into a *PanicError: the one place
// loaders, fetches and batch loaders are recovered.
func safely[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return f()
}

// unavailable is the error of a fail-closed read that found the backend
// unavailable for cause.
func unavailable(cause error) error {
	if cause == nil {
		return ErrBackendUnavailable
	}
	return fmt.Errorf("%w: %w", ErrBackendUnavailable, cause)
}
