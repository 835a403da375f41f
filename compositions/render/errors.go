package render

import (
	"fmt"
	"strings"
)

// FieldError is what is wrong with one place of a definition: Path names
// the place, such as "resources[1] (db) template .spec.owner",
// "status.url" or "connectionSecret.data.password".
type FieldError struct {
	Path   string
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Path + ": " + e.Reason }

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// InvalidDefinitionError lists everything wrong with a definition, in the
// order of the definition. Compile returns it.
type InvalidDefinitionError struct {
	Errors []*FieldError
}

// Error implements error: the errors separated by "; ".
func (e *InvalidDefinitionError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
}

// invalid returns the error of a list of field errors, or nil.
func invalid(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	out := &InvalidDefinitionError{}
	for _, err := range errs {
		if fe, ok := err.(*FieldError); ok {
			out.Errors = append(out.Errors, fe)
			continue
		}
		out.Errors = append(out.Errors, &FieldError{Path: "definition", Reason: err.Error()})
	}
	return out
}
