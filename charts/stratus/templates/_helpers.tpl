{{/* The chart's name. */}}
{{- define "stratus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name, the prefix of every object. */}}
{{- define "stratus.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "stratus.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "stratus.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "stratus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "stratus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the manager's pods. */}}
{{- define "stratus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stratus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{/* The manager's ServiceAccount. */}}
{{- define "stratus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stratus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The webhook's Service, Secret and configuration names. */}}
{{- define "stratus.webhookService" -}}{{ include "stratus.fullname" . }}-webhook{{- end -}}
{{- define "stratus.webhookSecret" -}}{{ include "stratus.fullname" . }}-webhook-cert{{- end -}}
{{- define "stratus.webhookConfiguration" -}}{{ include "stratus.fullname" . }}{{- end -}}

{{/* The metrics Service, and the Secret of the metrics server's certificate: empty when the manager makes a self-signed one. */}}
{{- define "stratus.metricsService" -}}{{ include "stratus.fullname" . }}-metrics{{- end -}}
{{- define "stratus.metricsSecret" -}}
{{- if and .Values.metrics.certSecret .Values.metrics.certManager.enabled -}}
{{- fail "metrics.certSecret and metrics.certManager.enabled both give the metrics certificate: set one" -}}
{{- else if .Values.metrics.certSecret -}}
{{- .Values.metrics.certSecret -}}
{{- else if .Values.metrics.certManager.enabled -}}
{{- include "stratus.fullname" . }}-metrics-cert
{{- end -}}
{{- end -}}

{{/* The namespaces the webhooks never see: the configured ones and the release's. */}}
{{- define "stratus.exemptNamespaces" -}}
{{- $ns := concat .Values.webhook.exemptNamespaces (list .Release.Namespace) | uniq -}}
{{- toJson $ns -}}
{{- end -}}

{{/* The image reference. */}}
{{- define "stratus.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}
