// Package guardrails tests the guardrails end to end: the webhook
// registered with a real API server, the audit, and composites judged by
// the resources they would create.
package guardrails
