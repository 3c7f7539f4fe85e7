package cachekitprom_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"
)

// failing is a backend whose every call fails, to trip the breaker.
type failing struct{}

var errDown = errors.New("backend down")

func (failing) Get(context.Context, string) ([]byte, error)              { return nil, errDown }
func (failing) Set(context.Context, string, []byte, time.Duration) error { return errDown }
func (failing) Delete(context.Context, ...string) error                  { return errDown }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
