package main

import (
	"context"
	"errors"
	"fmt"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1 // the server is unreachable, timed out or failed
	exitUsage    = 2 // bad flags, URL or arguments; unsafe or non-cachekit input
	exitNotFound = 3 // the namespace or key does not exist
	exitAborted  = 4 // the user declined the confirmation prompt
)

var (
	errUsage    = errors.New("usage")
	errNotFound = errors.New("not found")
	errAborted  = errors.New("aborted")
)

// usageErrorf builds an error with exit status 2.
func usageErrorf(format string, args ...any) error {
	return &codedError{err: fmt.Errorf(format, args...), kind: errUsage}
}

// notFoundf builds an error with exit status 3.
func notFoundf(format string, args ...any) error {
	return &codedError{err: fmt.Errorf(format, args...), kind: errNotFound}
}

// codedError carries the exit status class of an error.
type codedError struct {
	err  error
	kind error
}

func (e *codedError) Error() string   { return e.err.Error() }
func (e *codedError) Unwrap() []error { return []error{e.err, e.kind} }

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errNotFound):
		return exitNotFound
	case errors.Is(err, errAborted):
		return exitAborted
	}
	return exitFailure
}

// serverError explains a failed round trip to addr, naming a timeout as
// such.
func serverError(addr string, timeout fmt.Stringer, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return fmt.Errorf("redis at %s did not answer within %v (--timeout): it is frozen, overloaded or unreachable: %w", addr, timeout, err)
	}
	return fmt.Errorf("redis at %s: %w", addr, err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
