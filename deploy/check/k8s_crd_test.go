package check

// Custom resources are checked against their projects' own CustomResource
// Definitions, the way the API server checks a custom resource: unknown
// fields are found by the API server's structural pruning and the values by
// its OpenAPI schema validation (k8s.io/apiextensions-apiserver). Gateway
// API and Envoy Gateway objects are also decoded into their Go types;
// Traefik's Go types (github.com/traefik/traefik/v3) cannot be compiled beside
// gatehouse: Traefik v3.6 needs an OpenTelemetry log API that gatehouse's
// newer OpenTelemetry no longer has, and v3.7 cannot be required at all (it
// replaces one of its own modules with a local directory).
//
// Traefik's definitions are read from the Traefik release's module, fetched
// through the Go module proxy and checked against its module hash, so they
// are exactly what that release ships; the others from the modules this one
// requires.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The Traefik release whose CRDs the manifests are held to, and its module
// hash (go.sum's h1: line for it).
const (
	traefikModule    = "github.com/traefik/traefik/v3"
	traefikVersion   = "v3.6.12"
	traefikSum       = "h1:6pe4s7aaDTQs+AsF7KP3sM/xnq7zOVvibRQe5tw9eFo="
	traefikCRDInRepo = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
)

// crdVersion is one served version of a CRD, ready to check objects.
type crdVersion struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
}

var (
	traefikCRDsOnce sync.Once
	traefikCRDs     map[schema.GroupVersionKind]crdVersion
	traefikCRDsErr  error
)

// loadTraefikCRDs fetches (once per test binary) Traefik's CRDs.
func loadTraefikCRDs() (map[schema.GroupVersionKind]crdVersion, error) {
	traefikCRDsOnce.Do(func() {
		traefikCRDs, traefikCRDsErr = fetchTraefikCRDs()
	})
	return traefikCRDs, traefikCRDsErr
}

func fetchTraefikCRDs() (map[schema.GroupVersionKind]crdVersion, error) {
	tmp, err := os.MkdirTemp("", "gatehouse-traefik-crd")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// Outside any module, so this module's go.mod and go.sum stay as they are.
	cmd := exec.Command("go", "mod", "download", "-json", traefikModule+"@"+traefikVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s@%s (Traefik's CRDs): %w\n%s", traefikModule, traefikVersion, err, out)
	}
	var dl struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(out, &dl); err != nil || dl.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %v %s", traefikModule, traefikVersion, err, dl.Error)
	}
	if dl.Sum != traefikSum {
		return nil, fmt.Errorf("%s@%s has hash %s, want %s", traefikModule, traefikVersion, dl.Sum, traefikSum)
	}
	return parseCRDs(filepath.Join(dl.Dir, traefikCRDInRepo))
}

// parseCRDs reads a file of CustomResourceDefinitions.
func parseCRDs(path string) (map[schema.GroupVersionKind]crdVersion, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[schema.GroupVersionKind]crdVersion{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var crd apiextv1.CustomResourceDefinition
		if err := utilyaml.Unmarshal(doc, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			var internal apiext.JSONSchemaProps
			if err := apiextv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			s, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			val, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			out[gvk] = crdVersion{structural: s, validator: val}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no CRDs", path)
	}
	return out, nil
}

// moduleCRDFiles are the CRDs of the modules whose Go types decode the
// manifests, by module and path inside it: the objects are checked against
// them too, for what the Go types do not hold (enums, patterns, required
// fields, bounds). Gateway API's experimental channel: the ExternalAuth
// filter is in it.
var moduleCRDFiles = map[string][]string{
	"sigs.k8s.io/gateway-api": {
		"config/crd/experimental/gateway.networking.k8s.io_httproutes.yaml",
		"config/crd/experimental/gateway.networking.k8s.io_referencegrants.yaml",
	},
	"github.com/envoyproxy/gateway": {
		"charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_securitypolicies.yaml",
	},
}

// crdGroups are the API groups whose kinds must have a CRD schema loaded.
var crdGroups = map[string]bool{"gateway.networking.k8s.io": true, "gateway.envoyproxy.io": true, "traefik.io": true}

var (
	moduleCRDsOnce sync.Once
	moduleCRDs     map[schema.GroupVersionKind]crdVersion
	moduleCRDsErr  error
)

// loadModuleCRDs reads moduleCRDFiles (once per test binary) from the
// module cache: the versions this module's go.mod requires, verified by
// its go.sum.
func loadModuleCRDs() (map[schema.GroupVersionKind]crdVersion, error) {
	moduleCRDsOnce.Do(func() {
		moduleCRDs = map[schema.GroupVersionKind]crdVersion{}
		for mod, files := range moduleCRDFiles {
			out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
			var dl struct{ Dir, Error string }
			if err == nil {
				err = json.Unmarshal(out, &dl)
			}
			if err != nil || dl.Error != "" || dl.Dir == "" {
				moduleCRDsErr = fmt.Errorf("go mod download %s: %v %s", mod, err, dl.Error)
				return
			}
			for _, f := range files {
				crds, err := parseCRDs(filepath.Join(dl.Dir, f))
				if err != nil {
					moduleCRDsErr = err
					return
				}
				maps.Copy(moduleCRDs, crds)
			}
		}
	})
	return moduleCRDs, moduleCRDsErr
}

// checkCRD checks an object (JSON) as the API server checks a custom
// resource: strict ObjectMeta, no field its schema prunes, and a value its
// OpenAPI schema accepts. CEL rules (x-kubernetes-validations) are not run.
func checkCRD(crds map[schema.GroupVersionKind]crdVersion, source string, data []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	gvk := u.GroupVersionKind()
	crd, ok := crds[gvk]
	if !ok {
		return nil, fmt.Errorf("%s: no such kind served by %s's CRDs", gvk, source)
	}
	if md, ok := u.Object["metadata"]; ok {
		raw, _ := json.Marshal(md)
		var om metav1.ObjectMeta
		if err := decodeStrictJSON(raw, &om); err != nil {
			return nil, fmt.Errorf("%s metadata: %w", gvk.Kind, err)
		}
	}
	obj := runtime.DeepCopyJSON(u.Object)
	unknown := pruning.PruneWithOptions(obj, crd.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%s %s: unknown field %q (%s's CRD)", gvk.Kind, u.GetName(), strings.Join(unknown, `", "`), source)
	}
	if errs := validation.ValidateCustomResource(nil, u.Object, crd.validator); len(errs) > 0 {
		return nil, fmt.Errorf("%s %s: %s's CRD: %w", gvk.Kind, u.GetName(), source, errs.ToAggregate())
	}
	return u, nil
}
