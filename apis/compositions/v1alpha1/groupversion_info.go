// Package v1alpha1 contains the API types of the compositions.stratus.dev
// group: the CompositeDefinition kind with which a platform team declares a
// new API that bundles several resources.
// +kubebuilder:object:generate=true
// +groupName=compositions.stratus.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the types in this package.
	GroupVersion = schema.GroupVersion{Group: "compositions.stratus.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types in this package with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
