// Package chart embeds the files of the stratus Helm chart that the
// operator's own commands need, such as the CRDs that `stratus dev` and the
// tests install into a local control plane.
package chart

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed files/crds/*.yaml
var crdFiles embed.FS

//go:embed files/webhook/manifests.yaml
var webhookManifest []byte

//go:embed admission/*.yaml
var admissionFiles embed.FS

// AdmissionPolicies returns the ValidatingAdmissionPolicies and their
// bindings the chart installs: rules the API server evaluates itself.
func AdmissionPolicies() ([]*admissionregistrationv1.ValidatingAdmissionPolicy, []*admissionregistrationv1.ValidatingAdmissionPolicyBinding, error) {
	names, err := fs.Glob(admissionFiles, "admission/*.yaml")
	if err != nil {
		return nil, nil, fmt.Errorf("list admission policies: %w", err)
	}
	var (
		policies []*admissionregistrationv1.ValidatingAdmissionPolicy
		bindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
	)
	for _, name := range names {
		data, err := admissionFiles.ReadFile(name)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---\n")) {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				return nil, nil, fmt.Errorf("parse %s: %w", name, err)
			}
			switch meta.Kind {
			case "ValidatingAdmissionPolicy":
				var p admissionregistrationv1.ValidatingAdmissionPolicy
				if err := yaml.UnmarshalStrict(doc, &p); err != nil {
					return nil, nil, fmt.Errorf("parse %s: %w", name, err)
				}
				policies = append(policies, &p)
			case "ValidatingAdmissionPolicyBinding":
				var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
				if err := yaml.UnmarshalStrict(doc, &b); err != nil {
					return nil, nil, fmt.Errorf("parse %s: %w", name, err)
				}
				bindings = append(bindings, &b)
			case "":
			default:
				return nil, nil, fmt.Errorf("%s: unexpected kind %s", name, meta.Kind)
			}
		}
	}
	return policies, bindings, nil
}

// WebhookConfiguration returns the ValidatingWebhookConfiguration
// controller-gen generated: the Guardrail webhook and the guardrail webhook
// over the managed kinds.
func WebhookConfiguration() (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	data := bytes.TrimPrefix(bytes.TrimSpace(webhookManifest), []byte("---"))
	if err := yaml.UnmarshalStrict(data, &vwc); err != nil {
		return nil, fmt.Errorf("parse files/webhook/manifests.yaml: %w", err)
	}
	return &vwc, nil
}

// CRDs returns the CustomResourceDefinitions the chart installs, as
// controller-gen generated them.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	names, err := fs.Glob(crdFiles, "files/crds/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, name := range names {
		data, err := crdFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		crds = append(crds, &crd)
	}
	return crds, nil
}
