package check

// Building the kustomizations and decoding what they produce, strictly,
// into the real Go types of each API.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// newDecoder returns a strict decoder for every kind with Go types here:
// an unknown or misspelt field (matched case-sensitively, as the API server
// does), a duplicate field or an unregistered apiVersion/kind is an error.
// Traefik's kinds are checked against its CRDs instead (decodeObject).
func newDecoder() (runtime.Decoder, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
		gwv1.Install, gwv1b1.Install, egv1a1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer(), nil
}

// decodeObject decodes one object (JSON) into its Go type, strictly, and
// checks a custom resource against its CRD too; Traefik's kinds have only
// their CRD.
func decodeObject(dec runtime.Decoder, data []byte) (runtime.Object, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, err
	}
	group, _, _ := strings.Cut(tm.APIVersion, "/")
	if group == "traefik.io" {
		crds, err := loadTraefikCRDs()
		if err != nil {
			return nil, err
		}
		return checkCRD(crds, "Traefik "+traefikVersion, data)
	}
	obj, _, err := dec.Decode(data, nil, nil)
	if err != nil || !crdGroups[group] {
		return obj, err
	}
	crds, err := loadModuleCRDs()
	if err != nil {
		return nil, err
	}
	if _, err := checkCRD(crds, group, data); err != nil {
		return nil, err
	}
	return obj, nil
}

// manifests is a set of decoded objects.
type manifests struct {
	objs []runtime.Object
}

// kustomize builds the kustomization in dir as kubectl apply -k would and
// decodes every resulting object strictly.
func kustomize(dir string) (*manifests, error) {
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	m := &manifests{}
	for _, r := range rm.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		obj, err := decodeObject(dec, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		m.objs = append(m.objs, obj)
	}
	return m, nil
}

// decodeFile decodes every document of a plain YAML file strictly.
func decodeFile(path string) (*manifests, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec, err := newDecoder()
	if err != nil {
		return nil, err
	}
	m := &manifests{}
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
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		obj, err := decodeObject(dec, j)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m.objs = append(m.objs, obj)
	}
	return m, nil
}

func stripComments(doc []byte) []byte {
	var out []string
	for _, l := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// union returns the objects of all sets.
func union(sets ...*manifests) *manifests {
	m := &manifests{}
	for _, s := range sets {
		m.objs = append(m.objs, s.objs...)
	}
	return m
}

// all returns the objects of type T.
func all[T any, PT interface {
	*T
	runtime.Object
}](m *manifests) []PT {
	var out []PT
	for _, o := range m.objs {
		if t, ok := o.(PT); ok {
			out = append(out, t)
		}
	}
	return out
}

// find returns the object of type T with that namespace and name, or nil.
func find[T any, PT interface {
	*T
	runtime.Object
}](m *manifests, namespace, name string) PT {
	for _, o := range all[T, PT](m) {
		a, err := meta.Accessor(o)
		if err == nil && a.GetNamespace() == namespace && a.GetName() == name {
			return o
		}
	}
	return nil
}

// describe names an object for messages: Kind namespace/name.
func describe(o runtime.Object) string {
	a, err := meta.Accessor(o)
	if err != nil {
		return fmt.Sprintf("%T", o)
	}
	kind := strings.TrimPrefix(fmt.Sprintf("%T", o), "*")
	if i := strings.LastIndex(kind, "."); i >= 0 {
		kind = kind[i+1:]
	}
	return kind + " " + a.GetNamespace() + "/" + a.GetName()
}

// problems collects what a check found wrong.
type problems []string

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// has reports whether some problem contains s.
func (p problems) has(s string) bool {
	return slices.ContainsFunc(p, func(x string) bool { return strings.Contains(x, s) })
}

// copyTree copies the directory src to a new temporary directory and returns
// the copy's path, for the tests that break a copy on purpose.
func copyTree(tmp, src string) (string, error) {
	dst := filepath.Join(tmp, filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	return dst, err
}
