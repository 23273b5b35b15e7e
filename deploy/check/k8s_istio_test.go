package check

// Istio's extension provider (deploy/istio/meshconfig.yaml) and
// AuthorizationPolicy (deploy/istio/authorizationpolicy.yaml), decoded
// strictly into Istio's own API types (istio.io/api, the protobuf messages
// istiod reads) and checked against gatehouse's Kubernetes build.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// istioObject is the Kubernetes envelope of an Istio object; the spec is
// decoded separately into its protobuf message.
type istioObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
}

// decodeStrictJSON decodes JSON into v; an unknown field is an error.
func decodeStrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// loadIstio reads an Istio YAML file: the envelope strictly, then spec (or,
// with field set, spec's field) into msg with protojson, which refuses
// unknown fields (Istio's own generated UnmarshalJSON would accept them).
func loadIstio(path, field string, msg proto.Message) (*istioObject, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var o istioObject
	if err := decodeStrictJSON(j, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	spec := []byte(o.Spec)
	if field != "" {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(spec, &fields); err != nil {
			return nil, fmt.Errorf("%s: spec: %w", path, err)
		}
		for k := range fields {
			if k != field {
				return nil, fmt.Errorf("%s: spec.%s: only spec.%s is shown here", path, k, field)
			}
		}
		spec = fields[field]
	}
	if err := protojson.Unmarshal(spec, msg); err != nil {
		return nil, fmt.Errorf("%s: spec: %w", path, err)
	}
	return &o, nil
}

// checkIstio checks the extension provider and the AuthorizationPolicy.
func checkIstio(g *gatehouse, meshFile, policyFile string) problems {
	var p problems
	var mc meshv1alpha1.MeshConfig
	op, err := loadIstio(meshFile, "meshConfig", &mc)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if op.APIVersion != "install.istio.io/v1alpha1" || op.Kind != "IstioOperator" {
		p.addf("%s: %s %s, want install.istio.io/v1alpha1 IstioOperator", meshFile, op.APIVersion, op.Kind)
	}
	if n := mc.GetPathNormalization().GetNormalization(); n != meshv1alpha1.MeshConfig_ProxyPathNormalization_DECODE_AND_MERGE_SLASHES {
		p.addf("pathNormalization %v, want DECODE_AND_MERGE_SLASHES (gatehouse judges the normalized path)", n)
	}
	if len(mc.GetExtensionProviders()) != 1 {
		p.addf("want one extension provider, got %d", len(mc.GetExtensionProviders()))
		return p
	}
	prov := mc.GetExtensionProviders()[0]
	grpc := prov.GetEnvoyExtAuthzGrpc()
	if grpc == nil {
		p.addf("extension provider %s is not envoyExtAuthzGrpc", prov.GetName())
		return p
	}
	ns, name, ok := serviceHost(grpc.GetService(), "")
	if !ok || ns == "" {
		p.addf("provider service %q is not a Service's cluster name", grpc.GetService())
	} else if l := g.listenerOf(ns, name, int32(grpc.GetPort())); l != "grpc" {
		p.addf("provider %s:%d reaches gatehouse's %q listener, want grpc", grpc.GetService(), grpc.GetPort(), l)
	}
	if grpc.GetFailOpen() || grpc.GetStatusOnError() != "503" {
		p.addf("provider: failOpen %v statusOnError %q, want false and 503 (fail closed)", grpc.GetFailOpen(), grpc.GetStatusOnError())
	}
	if t := grpc.GetTimeout().AsDuration(); t <= 0 || t > g.cfg.Session.Timeout*4 {
		p.addf("provider timeout %v, want set, and not far above session.timeout %v", t, g.cfg.Session.Timeout)
	}

	var ap securityv1beta1.AuthorizationPolicy
	o, err := loadIstio(policyFile, "", &ap)
	if err != nil {
		p.addf("%v", err)
		return p
	}
	if o.Kind != "AuthorizationPolicy" || (o.APIVersion != "security.istio.io/v1" && o.APIVersion != "security.istio.io/v1beta1") || o.Metadata.Namespace == "" {
		p.addf("%s: %s %s in namespace %q, want a namespaced security.istio.io AuthorizationPolicy", policyFile, o.APIVersion, o.Kind, o.Metadata.Namespace)
	}
	if ap.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM || ap.GetProvider().GetName() != prov.GetName() {
		p.addf("policy: action %v provider %q, want CUSTOM and %q", ap.GetAction(), ap.GetProvider().GetName(), prov.GetName())
	}
	if len(ap.GetSelector().GetMatchLabels()) == 0 {
		p.addf("policy selects no workload")
	}
	// The rule must guard everything but /oauth2/: a list of paths to
	// check would leave every other path unchecked.
	rules := ap.GetRules()
	if len(rules) != 1 || len(rules[0].GetTo()) != 1 || len(rules[0].GetFrom()) != 0 || len(rules[0].GetWhen()) != 0 {
		p.addf("want exactly one rule with one operation and no from/when")
		return p
	}
	opn := rules[0].GetTo()[0].GetOperation()
	if len(opn.GetPaths()) != 0 || len(opn.GetNotPaths()) != 1 || opn.GetNotPaths()[0] != "/oauth2/*" ||
		len(opn.GetHosts())+len(opn.GetMethods())+len(opn.GetPorts())+len(opn.GetNotHosts())+len(opn.GetNotMethods())+len(opn.GetNotPorts()) != 0 {
		p.addf("operation %v, want only notPaths [/oauth2/*]", opn)
	}
	return p
}
