// Package match decides whether a Guardrail applies to a request: its
// kinds, namespaces, namespace and object label selectors, and operations.
// The admission webhook, the audit and `stratus policy test` share it.
package match

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
)

// DefaultOperations are the operations a guardrail with no operations
// applies to.
var DefaultOperations = []policyv1alpha1.Operation{"CREATE", "UPDATE"}

// Request is what matching needs to know about a request or an object.
type Request struct {
	// GroupKind of the object.
	GroupKind schema.GroupKind
	// Namespace of the object; empty for cluster-scoped objects.
	Namespace string
	// Labels of the object (of the old object on DELETE).
	Labels map[string]string
	// Operation is CREATE, UPDATE or DELETE; empty for the audit of an
	// existing object, which guardrails of CREATE or UPDATE judge.
	Operation policyv1alpha1.Operation
}

// NamespaceLabels returns the labels of a namespace. It is only called for
// guardrails with a namespace selector.
type NamespaceLabels func(namespace string) (map[string]string, error)

// Matcher is a compiled Match: its selectors are parsed once.
type Matcher struct {
	match             policyv1alpha1.Match
	operations        []policyv1alpha1.Operation
	namespaceSelector labels.Selector
	labelSelector     labels.Selector
}

// New compiles m. A selector that does not parse is an error naming it.
func New(m policyv1alpha1.Match) (*Matcher, error) {
	mt := &Matcher{match: m, operations: m.Operations}
	if len(mt.operations) == 0 {
		mt.operations = DefaultOperations
	}
	if len(m.Kinds) == 0 {
		return nil, fmt.Errorf("match.kinds: at least one is required")
	}
	var err error
	if m.NamespaceSelector != nil {
		if mt.namespaceSelector, err = metav1.LabelSelectorAsSelector(m.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("match.namespaceSelector: %w", err)
		}
	}
	if m.LabelSelector != nil {
		if mt.labelSelector, err = metav1.LabelSelectorAsSelector(m.LabelSelector); err != nil {
			return nil, fmt.Errorf("match.labelSelector: %w", err)
		}
	}
	return mt, nil
}

// HasNamespaceSelector reports whether matching needs namespace labels.
func (mt *Matcher) HasNamespaceSelector() bool { return mt.namespaceSelector != nil }

// AppliesTo reports whether the guardrail judges operation op at all; the
// empty operation (an audit) is judged by guardrails of CREATE or UPDATE.
func (mt *Matcher) AppliesTo(op policyv1alpha1.Operation) bool {
	if op == "" {
		return slices.Contains(mt.operations, "CREATE") || slices.Contains(mt.operations, "UPDATE")
	}
	return slices.Contains(mt.operations, op)
}

// Kinds returns the kind selectors of the match.
func (mt *Matcher) Kinds() []policyv1alpha1.KindSelector { return mt.match.Kinds }

// MatchesKind reports whether gk is one of the match's kinds.
func (mt *Matcher) MatchesKind(gk schema.GroupKind) bool {
	for _, ks := range mt.match.Kinds {
		if anyOf(ks.APIGroups, gk.Group) && anyOf(ks.Kinds, gk.Kind) {
			return true
		}
	}
	return false
}

// Matches reports whether the guardrail judges r. nsLabels may be nil when
// the match has no namespace selector.
func (mt *Matcher) Matches(r Request, nsLabels NamespaceLabels) (bool, error) {
	if !mt.AppliesTo(r.Operation) || !mt.MatchesKind(r.GroupKind) {
		return false, nil
	}
	// Namespaces only narrow namespaced objects, as in Gatekeeper.
	if r.Namespace != "" {
		if len(mt.match.Namespaces) > 0 && !slices.Contains(mt.match.Namespaces, r.Namespace) {
			return false, nil
		}
		if slices.Contains(mt.match.ExcludedNamespaces, r.Namespace) {
			return false, nil
		}
		if mt.namespaceSelector != nil {
			if nsLabels == nil {
				return false, fmt.Errorf("match.namespaceSelector: namespace labels are unknown here")
			}
			l, err := nsLabels(r.Namespace)
			if err != nil {
				return false, fmt.Errorf("read labels of namespace %q: %w", r.Namespace, err)
			}
			if !mt.namespaceSelector.Matches(labels.Set(l)) {
				return false, nil
			}
		}
	}
	if mt.labelSelector != nil && !mt.labelSelector.Matches(labels.Set(r.Labels)) {
		return false, nil
	}
	return true, nil
}

func anyOf(list []string, s string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, s)
}
