package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider names a cloud, or a server the operator talks to, with one driver
// per managed kind.
// +kubebuilder:validation:Enum=AWS;GCP;PostgreSQL
type Provider string

// The providers Stratus has drivers for.
const (
	ProviderAWS        Provider = "AWS"
	ProviderGCP        Provider = "GCP"
	ProviderPostgreSQL Provider = "PostgreSQL"
)

// CredentialsSource says where a provider's credentials come from.
// +kubebuilder:validation:Enum=Secret;Ambient
type CredentialsSource string

// The credential sources.
const (
	// CredentialsSourceSecret reads credentials from a Kubernetes Secret.
	CredentialsSourceSecret CredentialsSource = "Secret"
	// CredentialsSourceAmbient uses the provider's default chain: environment,
	// IRSA or web identity for AWS, workload identity for Google Cloud.
	CredentialsSourceAmbient CredentialsSource = "Ambient"
)

// SecretReference names a Secret. On a ProviderConfig the namespace defaults
// to the ProviderConfig's own; on a ClusterProviderConfig it is required.
type SecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Secret.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// Credentials say how the operator authenticates to a provider.
// +kubebuilder:validation:XValidation:rule="self.source != 'Secret' || has(self.secretRef)",message="secretRef is required when source is Secret"
type Credentials struct {
	// source of the credentials.
	// +required
	Source CredentialsSource `json:"source"`

	// secretRef names the Secret that holds the credentials. Keys by provider:
	// AWS: aws_access_key_id, aws_secret_access_key and optionally
	// aws_session_token; PostgreSQL: username and password.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`
}

// RateLimit bounds the calls the operator makes to one provider account.
type RateLimit struct {
	// qps is the sustained number of cloud operations per second.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	QPS int32 `json:"qps,omitempty"`

	// burst is the number of operations allowed at once above qps.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Burst int32 `json:"burst,omitempty"`
}

// PostgreSQLConnection says how to reach a PostgreSQL server.
type PostgreSQLConnection struct {
	// host name or address of the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// port of the server.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// sslMode is libpq's sslmode for the operator's connections and the
	// connection Secrets it writes.
	// +optional
	// +kubebuilder:default=prefer
	// +kubebuilder:validation:Enum=disable;allow;prefer;require;verify-ca;verify-full
	SSLMode string `json:"sslMode,omitempty"`

	// adminDatabase is the database the operator connects to.
	// +optional
	// +kubebuilder:default=postgres
	// +kubebuilder:validation:MaxLength=63
	AdminDatabase string `json:"adminDatabase,omitempty"`
}

// NamespaceFrom says which namespaces a NamespacePolicy admits.
// +kubebuilder:validation:Enum=All;Selector;None
type NamespaceFrom string

// The NamespaceFrom values.
const (
	// NamespacesFromAll admits every namespace.
	NamespacesFromAll NamespaceFrom = "All"
	// NamespacesFromSelector admits the namespaces whose labels match the
	// selector. Namespace labels are the platform team's: a namespaced role
	// cannot change them.
	NamespacesFromSelector NamespaceFrom = "Selector"
	// NamespacesFromNone admits no namespace.
	NamespacesFromNone NamespaceFrom = "None"
)

// NamespacePolicy says which namespaces something is granted to, like the
// Gateway API's allowedRoutes.namespaces.
// +kubebuilder:validation:XValidation:rule="self.from != 'Selector' || has(self.selector)",message="selector is required when from is Selector"
// +kubebuilder:validation:XValidation:rule="self.from == 'Selector' || !has(self.selector)",message="selector is only allowed when from is Selector"
type NamespacePolicy struct {
	// from is All, Selector (the namespaces selector matches) or None.
	// +required
	From NamespaceFrom `json:"from"`

	// selector of namespace labels, when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// Namespace labels with which a platform team lets a namespace's own
// ProviderConfigs use what is otherwise only for ClusterProviderConfigs.
// They are closed by default: a namespaced role cannot label its namespace.
const (
	// LabelAllowAmbientCredentials, "true" on a namespace, lets its
	// ProviderConfigs use the operator's own (Ambient) credentials.
	LabelAllowAmbientCredentials = "stratus.dev/allow-ambient-credentials"
	// LabelAllowCustomEndpoints, "true" on a namespace, lets its
	// ProviderConfigs send credentials to a place they choose: spec.endpoint
	// and the PostgreSQL host.
	LabelAllowCustomEndpoints = "stratus.dev/allow-custom-endpoints"
)

// ProviderConfigSpec says which provider to use and how to reach it.
// +kubebuilder:validation:XValidation:rule="self.provider != 'PostgreSQL' || has(self.postgresql)",message="postgresql is required when provider is PostgreSQL"
// +kubebuilder:validation:XValidation:rule="self.provider != 'PostgreSQL' || self.credentials.source == 'Secret'",message="the PostgreSQL provider needs credentials from a Secret"
type ProviderConfigSpec struct {
	// provider is the cloud or server the managed resources live in.
	// +required
	Provider Provider `json:"provider"`

	// region is the default region of resources that name none.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Region string `json:"region,omitempty"`

	// endpoint overrides the provider's API endpoint, for S3-compatible
	// servers, emulators and private endpoints. An http(s) URL.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('http://') || self.startsWith('https://'))",message="endpoint must be an http or https URL"
	Endpoint string `json:"endpoint,omitempty"`

	// credentials say how to authenticate.
	// +required
	Credentials Credentials `json:"credentials"`

	// postgresql says how to reach the server, for provider PostgreSQL.
	// +optional
	PostgreSQL *PostgreSQLConnection `json:"postgresql,omitempty"`

	// rateLimit bounds the operations made with this configuration.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// allowedNamespaces says which namespaces' managed resources may use a
	// ClusterProviderConfig. Defaults to All. A resource in another
	// namespace gets Synced=False ProviderConfigNotAllowed and nothing is
	// called in the cloud. Not allowed on a ProviderConfig, which serves its
	// own namespace only.
	// +optional
	AllowedNamespaces *NamespacePolicy `json:"allowedNamespaces,omitempty"`

	// adoption says which namespaces may adopt, by the
	// stratus.dev/external-name annotation, a cloud resource that no Stratus
	// object owns. Defaults to None. On a ProviderConfig only All and None
	// apply, and All only with credentials from its own Secret (the
	// namespace's own account). A resource owned by another object is never
	// adopted.
	// +optional
	Adoption *NamespacePolicy `json:"adoption,omitempty"`
}

// ProviderConfigStatus reports how many managed resources use a configuration.
type ProviderConfigStatus struct {
	// conditions of the configuration.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={stratus},shortName=pc
// +kubebuilder:printcolumn:name="PROVIDER",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="REGION",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`

// ProviderConfig says how managed resources in its namespace reach a cloud.
// It uses only its own namespace: its Secret is there, and Ambient
// credentials, an endpoint or a PostgreSQL host work only in a namespace the
// platform team labelled for them (LabelAllowAmbientCredentials,
// LabelAllowCustomEndpoints).
// +kubebuilder:validation:XValidation:rule="!has(self.spec.credentials.secretRef) || !has(self.spec.credentials.secretRef.__namespace__) || size(self.spec.credentials.secretRef.__namespace__) == 0",message="spec.credentials.secretRef.namespace must be empty: a ProviderConfig reads its Secret from its own namespace (use a ClusterProviderConfig for a Secret elsewhere)"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.allowedNamespaces)",message="spec.allowedNamespaces is for a ClusterProviderConfig: a ProviderConfig serves its own namespace only"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.adoption) || self.spec.adoption.from != 'Selector'",message="spec.adoption.from must be All or None on a ProviderConfig"
type ProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the configuration.
	// +required
	Spec ProviderConfigSpec `json:"spec"`

	// status of the configuration.
	// +optional
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ProviderConfigList is a list of ProviderConfigs.
type ProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderConfig `json:"items"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={stratus},shortName=cpc
// +kubebuilder:printcolumn:name="PROVIDER",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="REGION",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterProviderConfig says how managed resources in any namespace reach a
// cloud. Its credentials Secret must name a namespace.
// +kubebuilder:validation:XValidation:rule="self.spec.credentials.source != 'Secret' || (has(self.spec.credentials.secretRef) && has(self.spec.credentials.secretRef.__namespace__) && size(self.spec.credentials.secretRef.__namespace__) > 0)",message="spec.credentials.secretRef.namespace is required on a ClusterProviderConfig"
type ClusterProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the configuration.
	// +required
	Spec ProviderConfigSpec `json:"spec"`

	// status of the configuration.
	// +optional
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterProviderConfigList is a list of ClusterProviderConfigs.
type ClusterProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterProviderConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ProviderConfig{}, &ProviderConfigList{}, &ClusterProviderConfig{}, &ClusterProviderConfigList{})
}
