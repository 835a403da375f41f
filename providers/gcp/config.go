package gcp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"google.golang.org/api/option"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// KeyCredentialsJSON is the key of a credentials Secret that holds a
// service-account key file.
const KeyCredentialsJSON = "credentials.json"

// scopeCloudPlatform is the OAuth scope the drivers ask for.
const scopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"

// Google's own token endpoint and universe: where a key file of a confined
// configuration may send its credentials.
const (
	googleTokenURI = "https://oauth2.googleapis.com/token"
	googleUniverse = "googleapis.com"
)

// connection is a resolved Google Cloud provider configuration.
type connection struct {
	// project is the project resources are created in: the service
	// account's project_id, for Secret credentials.
	project string
	// options configure a Google API client.
	options []option.ClientOption
}

// connect resolves cfg into client options. The endpoint override (for
// emulators and private endpoints) is returned apart, since each API
// appends its own path to it.
func connect(ctx context.Context, cfg driver.Config, provider string) (connection, error) {
	if p := cfg.Spec.Provider; p != "" && p != stratusv1alpha1.ProviderGCP {
		return connection{}, driver.Terminalf("connect to %s: the provider configuration is for provider %s, not %s", provider, p, stratusv1alpha1.ProviderGCP)
	}
	c := connection{options: []option.ClientOption{option.WithScopes(scopeCloudPlatform)}}
	switch cfg.Spec.Credentials.Source {
	case stratusv1alpha1.CredentialsSourceSecret:
		key := cfg.Credentials[KeyCredentialsJSON]
		if len(key) == 0 {
			return connection{}, driver.BadCredentials(fmt.Errorf("connect to %s: the credentials Secret has no %q key with a service-account key file", provider, KeyCredentialsJSON))
		}
		var sa struct {
			Type           string `json:"type"`
			ProjectID      string `json:"project_id"`
			TokenURI       string `json:"token_uri"`
			UniverseDomain string `json:"universe_domain"`
		}
		if err := json.Unmarshal(key, &sa); err != nil || sa.Type != "service_account" {
			return connection{}, driver.BadCredentials(fmt.Errorf("connect to %s: %q in the credentials Secret is not a service-account key file", provider, KeyCredentialsJSON))
		}
		if cfg.Confined && (!slices.Contains([]string{"", googleTokenURI}, sa.TokenURI) || !slices.Contains([]string{"", googleUniverse}, sa.UniverseDomain)) {
			// The key file says where the signed assertion goes: a
			// namespace's own file must not make the operator call an
			// address of its choosing.
			return connection{}, driver.Terminalf("connect to %s: the key file in the credentials Secret sends it to token_uri %q (universe_domain %q), not Google's %s: a namespace's configuration may do so only where the platform team labelled the namespace %s=true",
				provider, sa.TokenURI, sa.UniverseDomain, googleTokenURI, stratusv1alpha1.LabelAllowCustomEndpoints)
		}
		c.project = sa.ProjectID
		c.options = append(c.options, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	case stratusv1alpha1.CredentialsSourceAmbient:
		// Application Default Credentials: workload identity, the metadata
		// server, or GOOGLE_APPLICATION_CREDENTIALS.
	default:
		return connection{}, driver.Terminalf("connect to %s: unknown credentials source %q", provider, cfg.Spec.Credentials.Source)
	}
	_ = ctx
	return c, nil
}
