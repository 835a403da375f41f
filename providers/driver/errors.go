package driver

import (
	"errors"
	"fmt"
)

// terminalError marks an error that retrying cannot fix.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

// Terminal marks err as one that retrying cannot fix: the spec (or the
// provider configuration) must change first. The reconciler stops retrying
// until the object's generation changes.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err: err}
}

// Terminalf is Terminal(fmt.Errorf(format, args...)).
func Terminalf(format string, args ...any) error {
	return Terminal(fmt.Errorf(format, args...))
}

// IsTerminal reports whether err, or an error it wraps, is terminal.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}

// throttledError marks an error with which the cloud asked to slow down.
type throttledError struct{ err error }

func (e *throttledError) Error() string { return e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// Throttled marks err as the cloud asking the caller to slow down.
func Throttled(err error) error {
	if err == nil {
		return nil
	}
	return &throttledError{err: err}
}

// IsThrottled reports whether err, or an error it wraps, is throttling.
func IsThrottled(err error) bool {
	var t *throttledError
	return errors.As(err, &t)
}

// blockedError marks a deletion that must not proceed.
type blockedError struct{ err error }

func (e *blockedError) Error() string { return e.err.Error() }
func (e *blockedError) Unwrap() error { return e.err }

// Blockedf returns an error saying why a deletion must not proceed, such as
// a bucket that still holds objects. The managed resource is kept, with a
// DeletionBlocked condition, and the deletion is retried at the poll
// interval.
func Blockedf(format string, args ...any) error {
	return &blockedError{err: fmt.Errorf(format, args...)}
}

// IsBlocked reports whether err, or an error it wraps, blocks a deletion.
func IsBlocked(err error) bool {
	var b *blockedError
	return errors.As(err, &b)
}

// credentialsError marks an error caused by credentials the cloud refused.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// BadCredentials marks err as caused by credentials the provider refused.
// The reconciler reports it with reason BadCredentials and retries with
// backoff, since the Secret may be fixed at any time.
func BadCredentials(err error) error {
	if err == nil {
		return nil
	}
	return &credentialsError{err: err}
}

// IsBadCredentials reports whether err, or an error it wraps, is caused by
// credentials the provider refused.
func IsBadCredentials(err error) bool {
	var c *credentialsError
	return errors.As(err, &c)
}
