package controller

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Where the platform team sets the kinds compositions may create, as
// messages name them.
const (
	// FlagComposableKinds is the manager's flag.
	FlagComposableKinds = "composable-kinds"
	// ValueComposableKinds is the Helm chart's value.
	ValueComposableKinds = "compositions.composableKinds"
	// ValueCompositeGroups is the Helm chart's value that grants the
	// operator the composites' own API groups.
	ValueCompositeGroups = "rbac.compositions.groups"
)

// DefaultComposableKinds are the kinds a CompositeDefinition may compose
// unless the platform team says otherwise: Stratus's own managed kinds,
// ConfigMaps and Secrets. None of them grants rights in the cluster.
var DefaultComposableKinds = []schema.GroupKind{
	{Group: "storage.stratus.dev", Kind: "Bucket"},
	{Group: "database.stratus.dev", Kind: "Database"},
	{Group: "", Kind: "ConfigMap"},
	{Group: "", Kind: "Secret"},
}

// uncachedKinds are composable kinds the operator never lists or watches
// across the cluster: it reads those an instance created by name, from
// the instance's record. Secrets: caching every Secret of the cluster
// would need the right to read them all.
var uncachedKinds = []schema.GroupKind{{Group: "", Kind: "Secret"}}

func cached(gk schema.GroupKind) bool { return !slices.Contains(uncachedKinds, gk) }

// options configure Setup.
type options struct {
	composable []schema.GroupKind
}

// Option configures Setup.
type Option func(*options)

// WithComposableKinds sets the kinds a CompositeDefinition may compose; a
// definition that composes any other is not valid and not served. The
// operator's RBAC must grant them (the chart does, from the same list).
func WithComposableKinds(kinds []schema.GroupKind) Option {
	return func(o *options) { o.composable = slices.Clone(kinds) }
}

var kindName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// ParseComposableKinds parses a comma-separated list of kinds, each
// Kind.group (Bucket.storage.stratus.dev) or, for the core API, Kind
// (ConfigMap), as --composable-kinds takes them. No wildcard: each kind is
// named.
func ParseComposableKinds(s string) ([]schema.GroupKind, error) {
	var kinds []schema.GroupKind
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		gk := schema.ParseGroupKind(item)
		switch {
		case !kindName.MatchString(gk.Kind):
			return nil, fmt.Errorf("--%s: %q is not Kind.group, such as Bucket.storage.stratus.dev, or Kind for the core API, such as ConfigMap", FlagComposableKinds, item)
		case strings.Contains(gk.Group, "*"):
			return nil, fmt.Errorf("--%s: %q: name each kind, without wildcards", FlagComposableKinds, item)
		}
		if !slices.Contains(kinds, gk) {
			kinds = append(kinds, gk)
		}
	}
	return kinds, nil
}

// FormatComposableKinds formats kinds as ParseComposableKinds takes them.
func FormatComposableKinds(kinds []schema.GroupKind) string {
	parts := make([]string, len(kinds))
	for i, gk := range kinds {
		parts[i] = kindString(gk)
	}
	return strings.Join(parts, ",")
}

// kindString names a kind as Kind.group, or Kind for the core API.
func kindString(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}
