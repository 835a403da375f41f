package guardrails

import (
	"encoding/json"
	"fmt"

	policyv1alpha1 "github.com/stratus-operator/stratus/apis/policy/v1alpha1"
)

// Parameters decodes a Guardrail's spec.parameters; none gives an empty
// object.
func Parameters(g *policyv1alpha1.Guardrail) (map[string]any, error) {
	params := map[string]any{}
	if g.Spec.Parameters == nil || len(g.Spec.Parameters.Raw) == 0 {
		return params, nil
	}
	if err := json.Unmarshal(g.Spec.Parameters.Raw, &params); err != nil {
		return nil, fmt.Errorf("spec.parameters must be an object: %w", err)
	}
	return params, nil
}
