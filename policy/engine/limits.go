package engine

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/topdown"
)

// Limits bound one evaluation of one guardrail against one object. A zero
// field is no limit.
type Limits struct {
	// Timeout bounds the evaluation's wall time. The caller's context
	// bounds it too.
	Timeout time.Duration
	// Steps bounds the expressions evaluated, counting each solution of
	// each expression, and the iterations of built-in functions that loop
	// (numbers.range, net.cidr_expand). Each step allocates little, so the
	// steps bound the memory a loop or a comprehension takes.
	Steps int64
	// Bytes bounds the size of what built-in functions return (strings,
	// numbers, arrays, sets, objects), and a call whose result would not
	// fit (sprintf("%0999999999d", ...), concat of a large array,
	// numbers.range(1, 1e9)) is refused before it runs.
	Bytes int64
}

// DefaultLimits are the limits of every guardrail: far above what a policy
// that judges one object needs (the library's guardrails take under 100
// steps and a few KiB), far below what would hurt the manager.
var DefaultLimits = Limits{Timeout: time.Second, Steps: 100_000, Bytes: 16 << 20}

// The limits a LimitError reports.
const (
	LimitSteps   = "steps"
	LimitMemory  = "memory"
	LimitTime    = "time"
	LimitSandbox = "sandbox"
)

// LimitError is returned by an evaluation that a guardrail's own Rego made
// fail: it exceeded a limit, or called a built-in function it may not call.
// Evaluating the guardrail again on the same input fails the same way.
type LimitError struct {
	// Guardrail is the guardrail's name.
	Guardrail string
	// Limit is LimitSteps, LimitMemory, LimitTime or LimitSandbox.
	Limit string
	// Message says which limit and, for memory, what exceeded it.
	Message string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("guardrail %q %s", e.Guardrail, e.Message)
}

// budget is what one evaluation may still spend. It is the evaluation's
// topdown.Cancel: the evaluator asks Cancelled before every expression and
// built-in functions that loop ask it at every iteration, so each call is a
// step.
type budget struct {
	guardrail string
	limits    Limits
	parent    context.Context
	deadline  time.Time

	steps atomic.Int64 // remaining
	bytes atomic.Int64 // remaining
	stop  atomic.Bool
	err   atomic.Pointer[LimitError]
}

var _ topdown.Cancel = (*budget)(nil)

func newBudget(ctx context.Context, guardrail string, l Limits) *budget {
	b := &budget{guardrail: guardrail, limits: l, parent: ctx}
	b.steps.Store(orUnlimited(l.Steps))
	b.bytes.Store(orUnlimited(l.Bytes))
	if l.Timeout > 0 {
		b.deadline = time.Now().Add(l.Timeout)
	}
	return b
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return n
}

// Cancel stops the evaluation.
func (b *budget) Cancel() { b.stop.Store(true) }

// Cancelled counts a step and reports whether the evaluation must stop:
// the caller's context is done, or a limit was exceeded.
func (b *budget) Cancelled() bool {
	if b.stop.Load() {
		return true
	}
	n := b.steps.Add(-1)
	if n < 0 {
		b.fail(LimitSteps, fmt.Sprintf("exceeded its limit of %d evaluation steps (a loop or a comprehension too large to judge one object)", b.limits.Steps))
		return true
	}
	// The clock and the context every 16 steps: a step takes about a
	// microsecond.
	if n&15 == 0 {
		if b.parent.Err() != nil {
			b.stop.Store(true)
			return true
		}
		if !b.deadline.IsZero() && time.Now().After(b.deadline) {
			b.fail(LimitTime, fmt.Sprintf("exceeded its time limit of %s", b.limits.Timeout))
			return true
		}
	}
	return false
}

// fail records the first limit exceeded and stops the evaluation.
func (b *budget) fail(limit, msg string) *LimitError {
	e := &LimitError{Guardrail: b.guardrail, Limit: limit, Message: msg}
	if !b.err.CompareAndSwap(nil, e) {
		e = b.err.Load()
	}
	b.stop.Store(true)
	return e
}

// exceeded returns the limit the evaluation exceeded, if any.
func (b *budget) exceeded() *LimitError { return b.err.Load() }

// reserve refuses a built-in call whose result, estimated before the call,
// would not fit in what remains.
func (b *budget) reserve(name string, estimate int64) error {
	if b.limits.Bytes <= 0 || estimate <= b.bytes.Load() {
		return nil
	}
	return halt(b.fail(LimitMemory, fmt.Sprintf("exceeded its memory limit of %s: %s would build about %s", bytesString(b.limits.Bytes), name, bytesString(estimate))))
}

// charge takes n bytes that a built-in function returned.
func (b *budget) charge(name string, n int64) error {
	if b.limits.Bytes <= 0 || b.bytes.Add(-n) >= 0 {
		return nil
	}
	return halt(b.fail(LimitMemory, fmt.Sprintf("exceeded its memory limit of %s (built-in functions returned more, the last %s)", bytesString(b.limits.Bytes), name)))
}

// forbid stops an evaluation that calls a forbidden built-in function. The
// compiler never lets one through; this is the last line.
func (b *budget) forbid(name string) error {
	return halt(b.fail(LimitSandbox, fmt.Sprintf("called %s, which guardrails may not call: %s", name, forbidden[name])))
}

// halt makes err stop the evaluation: other errors of built-in functions
// only make their expression undefined, which a policy would read as "no
// violation".
func halt(err error) error { return topdown.Halt{Err: err} }

type budgetKey struct{}

// withBudget returns ctx carrying b, for the built-in functions.
func withBudget(ctx context.Context, b *budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// budgetFrom returns the budget of the evaluation ctx belongs to; nil when
// it is not a guardrail's (OPA's test runner, for one).
func budgetFrom(ctx context.Context) *budget {
	if ctx == nil {
		return nil
	}
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// spent returns the steps and bytes an evaluation took.
func (b *budget) spent() (steps, bytes int64) {
	return orUnlimited(b.limits.Steps) - b.steps.Load(), orUnlimited(b.limits.Bytes) - b.bytes.Load()
}
