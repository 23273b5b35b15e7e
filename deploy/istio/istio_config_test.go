// Package istioconfig_test checks that the Istio examples parse and keep the
// settings gatehouse's guarantees rely on.
package istioconfig_test

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

type meshConfig struct {
	Spec struct {
		MeshConfig struct {
			PathNormalization struct {
				Normalization string `yaml:"normalization"`
			} `yaml:"pathNormalization"`
			ExtensionProviders []struct {
				Name              string `yaml:"name"`
				EnvoyExtAuthzGrpc struct {
					Service       string `yaml:"service"`
					Port          int    `yaml:"port"`
					Timeout       string `yaml:"timeout"`
					FailOpen      bool   `yaml:"failOpen"`
					StatusOnError string `yaml:"statusOnError"`
				} `yaml:"envoyExtAuthzGrpc"`
			} `yaml:"extensionProviders"`
		} `yaml:"meshConfig"`
	} `yaml:"spec"`
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type authorizationPolicy struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Action   string `yaml:"action"`
		Provider struct {
			Name string `yaml:"name"`
		} `yaml:"provider"`
		Rules []struct {
			To []struct {
				Operation struct {
					Paths    []string `yaml:"paths"`
					NotPaths []string `yaml:"notPaths"`
				} `yaml:"operation"`
			} `yaml:"to"`
		} `yaml:"rules"`
	} `yaml:"spec"`
}

// decodeStrict decodes file into v; an unknown key is an error.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func TestIstioExamples(t *testing.T) {
	var mc meshConfig
	decodeStrict(t, "meshconfig.yaml", &mc)
	var ap authorizationPolicy
	decodeStrict(t, "authorizationpolicy.yaml", &ap)

	if mc.Kind != "IstioOperator" || mc.Spec.MeshConfig.PathNormalization.Normalization != "DECODE_AND_MERGE_SLASHES" {
		t.Errorf("mesh config: kind %q, path normalization %q", mc.Kind, mc.Spec.MeshConfig.PathNormalization.Normalization)
	}
	providers := mc.Spec.MeshConfig.ExtensionProviders
	if len(providers) != 1 {
		t.Fatalf("want one extension provider, got %d", len(providers))
	}
	p := providers[0]
	if p.EnvoyExtAuthzGrpc.FailOpen || p.EnvoyExtAuthzGrpc.Port != 9191 || p.EnvoyExtAuthzGrpc.StatusOnError != "503" || p.EnvoyExtAuthzGrpc.Service == "" {
		t.Errorf("provider %+v: want failOpen false, port 9191, statusOnError 503", p)
	}

	if ap.Kind != "AuthorizationPolicy" || ap.Spec.Action != "CUSTOM" || ap.Spec.Provider.Name != p.Name {
		t.Errorf("policy: kind %q action %q provider %q (mesh provider %q)", ap.Kind, ap.Spec.Action, ap.Spec.Provider.Name, p.Name)
	}
	if len(ap.Spec.Selector.MatchLabels) == 0 {
		t.Error("policy selects no workload")
	}
	// The rule must guard everything but /oauth2/: a positive path list
	// would leave every unlisted path unchecked.
	if len(ap.Spec.Rules) != 1 || len(ap.Spec.Rules[0].To) != 1 {
		t.Fatalf("want exactly one rule with one operation")
	}
	op := ap.Spec.Rules[0].To[0].Operation
	if len(op.Paths) != 0 || len(op.NotPaths) != 1 || op.NotPaths[0] != "/oauth2/*" {
		t.Errorf("operation = %+v, want only notPaths [/oauth2/*]", op)
	}
}
