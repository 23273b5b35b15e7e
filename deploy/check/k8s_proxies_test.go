package check

// Checks of the proxy variants (Traefik, Envoy Gateway, Gateway API) against
// the gatehouse build they sit in front of: every reference resolves to a
// real object and to the right gatehouse listener, and every reference into
// another namespace is allowed by a ReferenceGrant.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1b1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

const forwardAuthPath = "/authz/forward-auth"

// granted reports whether a ReferenceGrant in toNS lets objects of
// fromGroup/fromKind in fromNS refer to Service toName.
func granted(m *manifests, fromGroup, fromKind, fromNS, toNS, toName string) bool {
	for _, rg := range all[gwv1b1.ReferenceGrant](m) {
		if rg.Namespace != toNS {
			continue
		}
		from := slices.ContainsFunc(rg.Spec.From, func(f gwv1b1.ReferenceGrantFrom) bool {
			return string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS
		})
		to := slices.ContainsFunc(rg.Spec.To, func(t gwv1b1.ReferenceGrantTo) bool {
			return t.Group == "" && t.Kind == "Service" && (t.Name == nil || string(*t.Name) == toName)
		})
		if from && to {
			return true
		}
	}
	return false
}

// backendRef checks a Gateway API reference from an object (group, kind,
// namespace) to a backend: a reference into gatehouse's namespace must be a
// port of gatehouse's Service, and one into another namespace needs a
// ReferenceGrant there. It returns the gatehouse listener reached, or "".
func backendRef(p *problems, g *gatehouse, m *manifests, from, group, kind, ns string, ref gwv1.BackendObjectReference) string {
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		p.addf("%s: backend %s is not a Service", from, ref.Name)
		return ""
	}
	to := ns
	if ref.Namespace != nil {
		to = string(*ref.Namespace)
	}
	if to != ns && !granted(m, group, kind, ns, to, string(ref.Name)) {
		p.addf("%s refers to Service %s/%s, and no ReferenceGrant in %s allows %s from %s", from, to, ref.Name, to, kind, ns)
	}
	if to != g.ns {
		return "" // the app: not shipped here
	}
	if ref.Port == nil {
		p.addf("%s: backend %s/%s has no port", from, to, ref.Name)
		return ""
	}
	l := g.listenerOf(to, string(ref.Name), int32(*ref.Port))
	if l == "" {
		p.addf("%s: backend %s/%s port %d is no port of gatehouse's Service", from, to, ref.Name, *ref.Port)
	}
	return l
}

const gatewayGroup = "gateway.networking.k8s.io"

// checkRoutes checks every HTTPRoute's backends and ExternalAuth filters,
// and that the protected routes are completed by an unchecked route that
// sends /oauth2/ on the same hosts to gatehouse's HTTP listener. It returns
// the routes by namespace/name.
func checkRoutes(p *problems, g *gatehouse, m *manifests, protected func(*gwv1.HTTPRoute) bool) {
	var guarded, oauth2 []*gwv1.HTTPRoute
	for _, r := range all[gwv1.HTTPRoute](m) {
		what := describe(r)
		toGatehouseHTTP := false
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				l := backendRef(p, g, m, what, gatewayGroup, "HTTPRoute", r.Namespace, b.BackendObjectReference)
				if l != "" && l != "http" {
					p.addf("%s sends requests to gatehouse's %s listener, want http", what, l)
				}
				toGatehouseHTTP = toGatehouseHTTP || l == "http"
			}
			for _, f := range rule.Filters {
				if f.Type != gwv1.HTTPRouteFilterExternalAuth || f.ExternalAuth == nil {
					continue
				}
				ea := f.ExternalAuth
				if ea.ExternalAuthProtocol != gwv1.HTTPRouteExternalAuthGRPCProtocol {
					p.addf("%s: ExternalAuth protocol %q, want GRPC", what, ea.ExternalAuthProtocol)
				}
				if l := backendRef(p, g, m, what+" ExternalAuth", gatewayGroup, "HTTPRoute", r.Namespace, ea.BackendRef); l != "grpc" {
					p.addf("%s: ExternalAuth reaches gatehouse's %q listener, want grpc", what, l)
				}
			}
		}
		switch {
		case toGatehouseHTTP:
			if protected(r) {
				p.addf("%s sends /oauth2/ to gatehouse but is itself checked: nobody could sign in", what)
			}
			for _, rule := range r.Spec.Rules {
				if len(rule.Matches) != 1 || rule.Matches[0].Path == nil || rule.Matches[0].Path.Type == nil ||
					*rule.Matches[0].Path.Type != gwv1.PathMatchPathPrefix || rule.Matches[0].Path.Value == nil || *rule.Matches[0].Path.Value != "/oauth2/" {
					p.addf("%s: the rule to gatehouse must match exactly PathPrefix /oauth2/", what)
				}
			}
			oauth2 = append(oauth2, r)
		case protected(r):
			guarded = append(guarded, r)
		default:
			p.addf("%s is neither checked by gatehouse nor gatehouse's /oauth2/ route", what)
		}
	}
	if len(guarded) == 0 || len(oauth2) == 0 {
		p.addf("want a checked route and gatehouse's /oauth2/ route, got %d and %d", len(guarded), len(oauth2))
	}
	for _, r := range guarded {
		if !slices.ContainsFunc(oauth2, func(o *gwv1.HTTPRoute) bool {
			return o.Namespace == r.Namespace && reflect.DeepEqual(o.Spec.Hostnames, r.Spec.Hostnames) && reflect.DeepEqual(o.Spec.ParentRefs, r.Spec.ParentRefs)
		}) {
			p.addf("%s: no /oauth2/ route to gatehouse on the same hosts and parents", describe(r))
		}
	}
}

// checkEnvoyGateway checks the Envoy Gateway variant: SecurityPolicies with
// gRPC extAuth to gatehouse, failing closed, on routes of the build.
func checkEnvoyGateway(g *gatehouse, v *manifests) problems {
	var p problems
	m := union(g.m, v)
	targeted := map[string]bool{}
	sps := all[egv1a1.SecurityPolicy](v)
	if len(sps) == 0 {
		p.addf("no SecurityPolicy")
	}
	for _, sp := range sps {
		what := describe(sp)
		ea := sp.Spec.ExtAuth
		if ea == nil || ea.GRPC == nil || ea.HTTP != nil {
			p.addf("%s: want extAuth over gRPC only", what)
			continue
		}
		if ea.FailOpen == nil || *ea.FailOpen {
			p.addf("%s: extAuth.failOpen must be false (fail closed)", what)
		}
		if ea.StatusOnError == nil || *ea.StatusOnError != 503 {
			p.addf("%s: extAuth.statusOnError must be 503, as gatehouse answers when its store fails (Envoy Gateway's default is 403)", what)
		}
		//lint:ignore SA1019 checking that the deprecated field is not used
		if ea.GRPC.BackendRef != nil || len(ea.GRPC.BackendRefs) == 0 {
			p.addf("%s: want grpc.backendRefs (backendRef is deprecated)", what)
		}
		for _, b := range ea.GRPC.BackendRefs {
			if l := backendRef(&p, g, m, what, "gateway.envoyproxy.io", "SecurityPolicy", sp.Namespace, b.BackendObjectReference); l != "grpc" {
				p.addf("%s: extAuth reaches gatehouse's %q listener, want grpc", what, l)
			}
		}
		//lint:ignore SA1019 checking that the deprecated field is not used
		if len(sp.Spec.TargetRefs) == 0 || sp.Spec.TargetRef != nil || len(sp.Spec.TargetSelectors) > 0 {
			p.addf("%s: want targetRefs only", what)
		}
		for _, t := range sp.Spec.TargetRefs {
			if string(t.Group) != gatewayGroup || t.Kind != "HTTPRoute" || find[gwv1.HTTPRoute](v, sp.Namespace, string(t.Name)) == nil {
				p.addf("%s: target %s %s is no HTTPRoute in %s", what, t.Kind, t.Name, sp.Namespace)
			}
			targeted[sp.Namespace+"/"+string(t.Name)] = true
		}
	}
	checkRoutes(&p, g, m, func(r *gwv1.HTTPRoute) bool { return targeted[r.Namespace+"/"+r.Name] })
	return p
}

// checkGatewayAPI checks the Gateway API variant: every rule of a checked
// route has the ExternalAuth filter (a rule without it would be unchecked).
func checkGatewayAPI(g *gatehouse, v *manifests) problems {
	var p problems
	hasFilter := func(rule gwv1.HTTPRouteRule) bool {
		return slices.ContainsFunc(rule.Filters, func(f gwv1.HTTPRouteFilter) bool { return f.Type == gwv1.HTTPRouteFilterExternalAuth })
	}
	for _, r := range all[gwv1.HTTPRoute](v) {
		n := 0
		for _, rule := range r.Spec.Rules {
			if hasFilter(rule) {
				n++
			}
		}
		if n > 0 && n < len(r.Spec.Rules) {
			p.addf("%s: %d of its %d rules have no ExternalAuth filter and are not checked", describe(r), len(r.Spec.Rules)-n, len(r.Spec.Rules))
		}
	}
	checkRoutes(&p, g, union(g.m, v), func(r *gwv1.HTTPRoute) bool { return len(r.Spec.Rules) > 0 && hasFilter(r.Spec.Rules[0]) })
	return p
}

// traefikDynamic is the part of Traefik's file-provider configuration
// (deploy/traefik/dynamic.yml) that the Kubernetes variant mirrors, as the
// plain values the file holds.
type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string         `json:"rule"`
			EntryPoints []string       `json:"entryPoints"`
			Priority    int            `json:"priority"`
			Middlewares []string       `json:"middlewares"`
			Service     string         `json:"service"`
			TLS         map[string]any `json:"tls"`
		} `json:"routers"`
		Middlewares map[string]map[string]any `json:"middlewares"`
		Services    map[string]struct {
			LoadBalancer struct {
				PassHostHeader *bool `json:"passHostHeader"`
			} `json:"loadBalancer"`
		} `json:"services"`
	} `json:"http"`
}

// loadDynamic reads deploy/traefik/dynamic.yml (itself run by the e2e
// suite's real Traefik).
func loadDynamic(path string) (*traefikDynamic, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c traefikDynamic
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.HTTP.Routers) == 0 || len(c.HTTP.Middlewares) == 0 {
		return nil, fmt.Errorf("%s: no routers or middlewares", path)
	}
	return &c, nil
}

// ingressRoute is what the checks read of a Traefik IngressRoute (already
// checked against Traefik's CRD).
type ingressRoute struct {
	EntryPoints []string `json:"entryPoints"`
	Routes      []struct {
		Match       string `json:"match"`
		Priority    int    `json:"priority"`
		Middlewares []struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"middlewares"`
		Services []struct {
			Name           string             `json:"name"`
			Namespace      string             `json:"namespace"`
			Kind           string             `json:"kind"`
			Port           intstr.IntOrString `json:"port"`
			PassHostHeader *bool              `json:"passHostHeader"`
		} `json:"services"`
	} `json:"routes"`
	TLS map[string]any `json:"tls"`
}

// traefikObjects returns the Traefik objects of kind in m with their specs
// decoded into T.
func traefikObjects[T any](p *problems, m *manifests, kind string) map[*unstructured.Unstructured]*T {
	out := map[*unstructured.Unstructured]*T{}
	for _, u := range all[unstructured.Unstructured](m) {
		if u.GetKind() != kind {
			continue
		}
		data, _ := json.Marshal(u.Object["spec"])
		var t T
		if err := json.Unmarshal(data, &t); err != nil {
			p.addf("%s %s: %v", kind, u.GetName(), err)
			continue
		}
		out[u] = &t
	}
	return out
}

func uname(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// checkTraefik checks the Traefik variant: the ForwardAuth address reaches
// gatehouse's HTTP listener, every reference stays in its namespace (so
// allowCrossNamespace is not needed) and resolves, and the middlewares and
// routes are those of deploy/traefik/dynamic.yml, the file tested end to end.
func checkTraefik(g *gatehouse, v *manifests, dyn *traefikDynamic) problems {
	var p problems
	mws := traefikObjects[map[string]any](&p, v, "Middleware")
	hasMiddleware := func(ns, name string) bool {
		for u := range mws {
			if u.GetNamespace() == ns && u.GetName() == name {
				return true
			}
		}
		return false
	}
	for u, specp := range mws {
		spec, what := *specp, uname(u)
		want, ok := dyn.HTTP.Middlewares[u.GetName()]
		if !ok {
			p.addf("%s has no counterpart in deploy/traefik/dynamic.yml", what)
			continue
		}
		want = runtime.DeepCopyJSON(want)
		if fa, ok := spec["forwardAuth"].(map[string]any); ok {
			address, _ := fa["address"].(string)
			checkForwardAuthAddress(&p, g, what, address)
			delete(fa, "address")
			headers := []any{g.cfg.Headers.User, g.cfg.Headers.Email, g.cfg.Headers.Groups, g.cfg.Headers.PreferredUsername, "X-Auth-Request-Access-Token", "Cookie"}
			if !reflect.DeepEqual(fa["authResponseHeaders"], headers) {
				p.addf("%s: authResponseHeaders %v, want %v (gatehouse's identity headers, the access token header and Cookie)", what, fa["authResponseHeaders"], headers)
			}
			if fa["trustForwardHeader"] != false {
				p.addf("%s: trustForwardHeader must be false", what)
			}
			if wfa, ok := want["forwardAuth"].(map[string]any); ok {
				delete(wfa, "address")
			}
		}
		if !reflect.DeepEqual(spec, want) {
			p.addf("%s differs from dynamic.yml's %s:\n  here    %v\n  dynamic %v", what, u.GetName(), spec, want)
		}
	}
	checkTraefikRoutes(&p, g, v, dyn, hasMiddleware)
	return p
}

// checkTraefikRoutes checks that the IngressRoutes' routes are dynamic.yml's
// routers and that their middlewares and services resolve in their own
// namespace.
func checkTraefikRoutes(p *problems, g *gatehouse, v *manifests, dyn *traefikDynamic, hasMiddleware func(ns, name string) bool) {
	irs := traefikObjects[ingressRoute](p, v, "IngressRoute")
	matched := map[string]bool{}
	for name, router := range dyn.HTTP.Routers {
		found := false
		for u, ir := range irs {
			for _, rt := range ir.Routes {
				var names []string
				for _, mr := range rt.Middlewares {
					names = append(names, mr.Name)
				}
				if rt.Match == router.Rule && rt.Priority == router.Priority && slices.Equal(names, router.Middlewares) &&
					len(rt.Services) == 1 && rt.Services[0].Name == router.Service &&
					slices.Equal(ir.EntryPoints, router.EntryPoints) && (ir.TLS != nil) == (router.TLS != nil) {
					found = true
					matched[u.GetNamespace()+"/"+u.GetName()+"/"+rt.Match] = true
				}
			}
		}
		if !found {
			p.addf("dynamic.yml's router %s has no IngressRoute route with the same rule, priority, middlewares, service, entry points and TLS", name)
		}
	}
	for u, ir := range irs {
		ns := u.GetNamespace()
		for _, rt := range ir.Routes {
			what := uname(u) + " route " + strconv.Quote(rt.Match)
			if !matched[ns+"/"+u.GetName()+"/"+rt.Match] {
				p.addf("%s has no counterpart router in dynamic.yml", what)
			}
			for _, mr := range rt.Middlewares {
				if mr.Namespace != "" && mr.Namespace != ns {
					p.addf("%s: middleware %s/%s is in another namespace (needs allowCrossNamespace)", what, mr.Namespace, mr.Name)
				} else if !hasMiddleware(ns, mr.Name) {
					p.addf("%s: middleware %s is not in %s", what, mr.Name, ns)
				}
			}
			for _, s := range rt.Services {
				if s.Kind != "" && s.Kind != "Service" {
					p.addf("%s: service %s is a %s", what, s.Name, s.Kind)
				}
				if s.Namespace != "" && s.Namespace != ns {
					p.addf("%s: service %s/%s is in another namespace (needs allowCrossNamespace)", what, s.Namespace, s.Name)
				}
				if ns != g.ns {
					continue // the app: not shipped here
				}
				if l := g.listenerOf(ns, s.Name, s.Port.IntVal); l != "http" {
					p.addf("%s: service %s port %s reaches gatehouse's %q listener, want http", what, s.Name, s.Port.String(), l)
				}
				if want, ok := dyn.HTTP.Services[s.Name]; !ok || !reflect.DeepEqual(s.PassHostHeader, want.LoadBalancer.PassHostHeader) {
					p.addf("%s: service %s passHostHeader differs from dynamic.yml's service", what, s.Name)
				}
			}
		}
	}
}

// checkForwardAuthAddress checks that a ForwardAuth URL names gatehouse's
// Service and its HTTP listener's port, and the forward-auth endpoint.
func checkForwardAuthAddress(p *problems, g *gatehouse, what, address string) {
	u, err := url.Parse(address)
	if err != nil || u.Scheme != "http" {
		p.addf("%s: forwardAuth address %q is not an http URL", what, address)
		return
	}
	ns, name, ok := serviceHost(u.Hostname(), "")
	port, _ := strconv.Atoi(u.Port())
	if !ok || ns == "" {
		p.addf("%s: forwardAuth host %s does not name a Service with its namespace", what, u.Hostname())
	} else if l := g.listenerOf(ns, name, int32(port)); l != "http" {
		p.addf("%s: forwardAuth address %s reaches gatehouse's %q listener, want http", what, address, l)
	}
	if u.Path != forwardAuthPath || u.RawQuery != "" {
		p.addf("%s: forwardAuth path %s, want %s", what, u.Path, forwardAuthPath)
	}
}
