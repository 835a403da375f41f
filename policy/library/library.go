// Package library holds the built-in Stratus guardrails, written in Rego v1
// for the policy/engine contract and embedded into the binary.
//
// Each guardrail lives in its own folder, policy/library/<name>/, holding
// <name>.rego (the module), <name>_test.rego (its OPA unit tests, run by the
// package's Go tests) and README.md (what it checks, its parameters and an
// example violation).
//
// Each module opens with an OPA METADATA block whose custom.controls lists
// the benchmark and cloud controls (CIS, AWS Security Hub, AWS Config, AWS
// Control Tower) the guardrail implements, so that the installed Guardrail's
// spec.rego carries them; its README lists the same under "Controls:".
//
// A bucket-tls-only guardrail is deliberately absent: the Bucket API has no
// field that says whether TLS is enforced (spec.labels are cloud-side tags,
// and an annotation would be a promise the controller does not keep), so the
// rule cannot be expressed on the current API.
package library

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
)

//go:embed */*.rego */README.md
var files embed.FS

// Entry is one built-in guardrail.
type Entry struct {
	// Name is the guardrail's name, also its folder name.
	Name string
	// Module is the Rego source of the guardrail (without its tests).
	Module string
	// Doc is the guardrail's README.md.
	Doc string
	// Controls are the benchmark and cloud controls the guardrail
	// implements, from its METADATA custom.controls; none for most
	// guardrails that are not security controls.
	Controls []string
}

// All returns every built-in guardrail, sorted by name.
func All() []Entry {
	entries, err := entries(files)
	if err != nil {
		// The embedded files are fixed at build time and checked by tests.
		panic(err)
	}
	return entries
}

// Get returns the built-in guardrail called name.
func Get(name string) (Entry, bool) {
	for _, e := range All() {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

func entries(fsys fs.FS) ([]Entry, error) {
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		module, err := fs.ReadFile(fsys, path.Join(name, name+".rego"))
		if err != nil {
			return nil, fmt.Errorf("guardrail %s: %w", name, err)
		}
		doc, err := fs.ReadFile(fsys, path.Join(name, "README.md"))
		if err != nil {
			return nil, fmt.Errorf("guardrail %s: %w", name, err)
		}
		controls, err := controlsOf(name, string(module))
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Name: name, Module: string(module), Doc: string(doc), Controls: controls})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// controlsOf reads custom.controls from the package METADATA of a module.
func controlsOf(name, module string) ([]string, error) {
	mod, err := ast.ParseModuleWithOpts(name+".rego", module, ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		return nil, fmt.Errorf("guardrail %s: %w", name, err)
	}
	for _, a := range mod.Annotations {
		if a.Scope != "package" {
			continue
		}
		raw, ok := a.Custom["controls"]
		if !ok {
			break
		}
		list, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("guardrail %s: METADATA custom.controls is %T, want a list", name, raw)
		}
		controls := make([]string, 0, len(list))
		for _, c := range list {
			s, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("guardrail %s: METADATA custom.controls holds %T, want strings", name, c)
			}
			controls = append(controls, s)
		}
		return controls, nil
	}
	return nil, fmt.Errorf("guardrail %s: no METADATA custom.controls before the package", name)
}
