package controller

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
	"github.com/stratus-operator/stratus/policy/engine"
	"github.com/stratus-operator/stratus/policy/guardrails"
)

// +kubebuilder:webhook:path=/validate-policy-stratus-dev-v1alpha1-guardrail,mutating=false,failurePolicy=fail,sideEffects=None,groups=policy.stratus.dev,resources=guardrails,verbs=create;update,versions=v1alpha1,name=guardrail-rego.stratus.dev,admissionReviewVersions=v1,timeoutSeconds=10

// Validator refuses a Guardrail whose Rego, parameters or match do not
// compile, naming the line and column of each Rego error.
type Validator struct{}

var _ admission.Validator[*policyv1alpha1.Guardrail] = Validator{}

// ValidateCreate compiles the new Guardrail.
func (Validator) ValidateCreate(_ context.Context, g *policyv1alpha1.Guardrail) (admission.Warnings, error) {
	return nil, validate(g)
}

// ValidateUpdate compiles the changed Guardrail.
func (Validator) ValidateUpdate(_ context.Context, _, g *policyv1alpha1.Guardrail) (admission.Warnings, error) {
	return nil, validate(g)
}

// ValidateDelete admits every deletion.
func (Validator) ValidateDelete(context.Context, *policyv1alpha1.Guardrail) (admission.Warnings, error) {
	return nil, nil
}

func validate(g *policyv1alpha1.Guardrail) error {
	_, err := guardrails.Compile(g)
	if err == nil {
		return nil
	}
	gk := policyv1alpha1.GroupVersion.WithKind("Guardrail").GroupKind()
	var ce *engine.CompileError
	if errors.As(err, &ce) {
		var errs field.ErrorList
		for _, pe := range ce.Errors {
			errs = append(errs, field.Invalid(field.NewPath("spec", "rego"), fmt.Sprintf("line %d, column %d", pe.Line, pe.Column), pe.Code+": "+pe.Message))
		}
		return apierrors.NewInvalid(gk, g.Name, errs)
	}
	return apierrors.NewInvalid(gk, g.Name, field.ErrorList{field.Invalid(field.NewPath("spec"), "", err.Error())})
}
