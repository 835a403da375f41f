// Package v1alpha1 contains the API types of the policy.stratus.dev group:
// the Guardrail kind, a Rego policy that the admission webhook and the
// audit apply to cloud resources and to what composites would create.
// +kubebuilder:object:generate=true
// +groupName=policy.stratus.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the types in this package.
	GroupVersion = schema.GroupVersion{Group: "policy.stratus.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types in this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
