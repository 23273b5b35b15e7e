// Package envoyconfig_test checks that the shipped Envoy bootstrap parses
// into Envoy's own v3 API types, passes Envoy's validation rules, and keeps
// the settings gatehouse's security depends on.
package envoyconfig_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	// Register every typed_config type the bootstrap names, so that
	// protojson can resolve each "@type".
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"

	"github.com/gatehouse/gatehouse/internal/envoy"
)

const bootstrapFile = "envoy.yaml"

// load parses Envoy YAML the way Envoy does: YAML to JSON, then the proto
// JSON mapping, where an unknown field or an unresolvable "@type" is an
// error. It then runs Envoy's validation rules on the bootstrap and on every
// message packed in an Any, which ValidateAll alone does not reach.
func load(data []byte) (*bootstrapv3.Bootstrap, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("yaml to json: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		return nil, fmt.Errorf("protojson: %w", err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	n, err := validateAnys(b.ProtoReflect(), "bootstrap")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("no typed_config found: the walk is broken")
	}
	return b, nil
}

type validator interface{ ValidateAll() error }

// validateAnys walks m, unpacks every Any, validates it and walks into it.
// It returns how many Anys it checked.
func validateAnys(m protoreflect.Message, path string) (int, error) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return 0, fmt.Errorf("%s: unpack %s: %w", path, a.GetTypeUrl(), err)
		}
		v, ok := inner.(validator)
		if !ok {
			return 0, fmt.Errorf("%s: %s has no validation rules", path, a.GetTypeUrl())
		}
		if err := v.ValidateAll(); err != nil {
			return 0, fmt.Errorf("%s (%s): %w", path, a.GetTypeUrl(), err)
		}
		n, err := validateAnys(inner.ProtoReflect(), path+"{"+a.GetTypeUrl()+"}")
		return n + 1, err
	}
	total := 0
	var walkErr error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		visit := func(msg protoreflect.Message, p string) bool {
			n, err := validateAnys(msg, p)
			total += n
			walkErr = err
			return err == nil
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if !visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i)) {
					return false
				}
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			ok := true
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				ok = visit(mv.Message(), p+"["+k.String()+"]")
				return ok
			})
			return ok
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			return visit(v.Message(), p)
		}
		return true
	})
	return total, walkErr
}

func readBootstrap(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(bootstrapFile)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBootstrapIsValid(t *testing.T) {
	if _, err := load(readBootstrap(t)); err != nil {
		t.Fatal(err)
	}
}

// unpack returns the message in a, failing the test if it is another type.
func unpack[T proto.Message](t *testing.T, a *anypb.Any, m T) T {
	t.Helper()
	if err := a.UnmarshalTo(m); err != nil {
		t.Fatalf("typed_config %s: %v", a.GetTypeUrl(), err)
	}
	return m
}

// TestBootstrapSecuritySettings pins the settings gatehouse's guarantees
// rely on, so an edit that weakens one fails here.
func TestBootstrapSecuritySettings(t *testing.T) {
	b, err := load(readBootstrap(t))
	if err != nil {
		t.Fatal(err)
	}
	listeners := b.GetStaticResources().GetListeners()
	if len(listeners) != 1 || listeners[0].GetAddress().GetSocketAddress().GetPortValue() != 8080 {
		t.Fatalf("want one listener on :8080, got %v", listeners)
	}
	hcm := unpack(t, listeners[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig(), &hcmv3.HttpConnectionManager{})
	if !hcm.GetNormalizePath().GetValue() || !hcm.GetMergeSlashes() ||
		hcm.GetPathWithEscapedSlashesAction() != hcmv3.HttpConnectionManager_REJECT_REQUEST {
		t.Error("path normalization is not fully on")
	}
	if hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction().String() != "REJECT_REQUEST" {
		t.Error("headers with underscores are not rejected")
	}

	filters := hcm.GetHttpFilters()
	if len(filters) != 2 || filters[0].GetName() != "envoy.filters.http.ext_authz" || filters[1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("want ext_authz then router, got %v", filters)
	}
	ea := unpack(t, filters[0].GetTypedConfig(), &extauthzv3.ExtAuthz{})
	if ea.GetFailureModeAllow() {
		t.Error("failure_mode_allow is on: gatehouse down would let everyone in")
	}
	if ea.GetTransportApiVersion().String() != "V3" || ea.GetWithRequestBody() != nil || ea.GetIncludePeerCertificate() {
		t.Error("ext_authz must use V3, no request body, no peer certificate")
	}
	// Every client header must reach gatehouse: it refuses look-alike
	// spellings of identity headers and hands back the Cookie header
	// without its own cookies, which it can do only for headers it sees.
	if ah := ea.GetAllowedHeaders(); ah != nil {
		t.Errorf("allowed_headers %v limits the headers gatehouse sees; leave it unset", ah.GetPatterns())
	}
	gs := ea.GetGrpcService()
	if gs.GetEnvoyGrpc().GetClusterName() != "gatehouse_grpc" {
		t.Errorf("ext_authz cluster = %q", gs.GetEnvoyGrpc().GetClusterName())
	}
	if to := gs.GetTimeout().AsDuration(); to <= 0 || to > 250*time.Millisecond {
		t.Errorf("ext_authz timeout = %v, want (0, 250ms]", to)
	}

	routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
	checkVirtualHosts(t, hcm.GetRouteConfig())
	var oauth, app bool
	for _, r := range routes {
		per, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
		if !ok {
			t.Errorf("route %v has no ext_authz setting", r.GetMatch())
			continue
		}
		pr := unpack(t, per, &extauthzv3.ExtAuthzPerRoute{})
		switch r.GetMatch().GetPrefix() {
		case "/oauth2/":
			oauth = pr.GetDisabled() && r.GetRoute().GetCluster() == "gatehouse_http"
		case "/":
			app = !pr.GetDisabled() && r.GetRoute().GetCluster() == "app" &&
				pr.GetCheckSettings().GetContextExtensions()[envoy.ContextExtensionRoute] != ""
		}
	}
	if !oauth || !app {
		t.Errorf("routes: /oauth2/ → gatehouse_http without ext_authz: %v; / → app with ext_authz: %v", oauth, app)
	}

	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	for name, port := range map[string]uint32{"gatehouse_grpc": 9191, "gatehouse_http": 4180, "app": 5050} {
		c := clusters[name]
		if got := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue(); got != port {
			t.Errorf("cluster %s port = %d, want %d", name, got, port)
		}
	}
	g := clusters["gatehouse_grpc"]
	po := unpack(t, g.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"], &upstreamhttpv3.HttpProtocolOptions{})
	if po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Error("gatehouse_grpc does not speak HTTP/2")
	}
	if len(g.GetHealthChecks()) != 1 || g.GetHealthChecks()[0].GetGrpcHealthCheck().GetServiceName() != envoy.ServiceName {
		t.Errorf("gatehouse_grpc health check = %v, want grpc_health_check of %s", g.GetHealthChecks(), envoy.ServiceName)
	}
	if ka := po.GetExplicitHttpConfig().GetHttp2ProtocolOptions().GetConnectionKeepalive().GetInterval().AsDuration(); ka != 0 && ka < 10*time.Second {
		t.Errorf("keepalive interval %v is below gatehouse's 10s enforcement minimum", ka)
	}
}

// otherProductsIdentity are identity headers of other products that the
// app must never receive, as the nginx configuration removes them.
var otherProductsIdentity = []string{"remote-user", "x-remote-user", "x-forwarded-user",
	"x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username",
	"remote-email", "remote-groups", "remote-name",
	"x-original-url", "x-rewrite-url", "x-original-uri", "x-forwarded-uri", "x-envoy-original-path",
	"x-script-name", "x-forwarded-prefix"}

// checkVirtualHosts: the app's virtual host names its real domains (never
// "*") and removes other products' identity headers; a last, catch-all
// virtual host refuses every other host without asking gatehouse or
// forwarding anything.
func checkVirtualHosts(t *testing.T, rc *routev3.RouteConfiguration) {
	t.Helper()
	vhs := rc.GetVirtualHosts()
	if len(vhs) != 2 {
		t.Fatalf("want the app's virtual host and a refusing default, got %d virtual hosts", len(vhs))
	}
	app, def := vhs[0], vhs[1]
	if len(app.GetDomains()) == 0 {
		t.Error("the app's virtual host lists no domains")
	}
	for _, d := range app.GetDomains() {
		if strings.Contains(d, "*") {
			t.Errorf("the app's virtual host matches %q: list the app's real host names", d)
		}
	}
	for _, h := range otherProductsIdentity {
		if !slices.Contains(app.GetRequestHeadersToRemove(), h) {
			t.Errorf("the app's virtual host does not remove %s", h)
		}
	}
	if !slices.Equal(def.GetDomains(), []string{"*"}) {
		t.Errorf("default virtual host domains = %q, want [\"*\"]", def.GetDomains())
	}
	for _, r := range def.GetRoutes() {
		dr := r.GetDirectResponse()
		if dr == nil || dr.GetStatus() < 400 || dr.GetStatus() > 499 {
			t.Errorf("default virtual host route %v does not refuse with a 4xx direct response", r.GetMatch())
		}
		per, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
		if !ok || !unpack(t, per, &extauthzv3.ExtAuthzPerRoute{}).GetDisabled() {
			t.Errorf("default virtual host route %v asks gatehouse; a refused host needs no check", r.GetMatch())
		}
	}
}

// TestBrokenBootstrapsFail shows the loader catches what Envoy would refuse
// at startup.
func TestBrokenBootstrapsFail(t *testing.T) {
	good := string(readBootstrap(t))
	for name, edit := range map[string][2]string{
		"misspelled field in typed_config": {"failure_mode_allow: false", "failure_mode_alow: false"},
		"misspelled top-level field":       {"static_resources:", "static_resource:"},
		"unknown @type": {"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
			"type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr"},
		"wrong @type for per-route config": {"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute\n                    disabled: true",
			"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz\n                    disabled: true"},
		"invalid value inside an Any": {"stat_prefix: ingress_http", `stat_prefix: ""`},
		"bad enum":                    {"transport_api_version: V3", "transport_api_version: V4"},
		"port out of range":           {"port_value: 9191", "port_value: 91910"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := strings.Replace(good, edit[0], edit[1], 1)
			if bad == good {
				t.Fatalf("edit %q not found in %s", edit[0], bootstrapFile)
			}
			if _, err := load([]byte(bad)); err == nil {
				t.Fatal("broken bootstrap accepted")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestWalkReachesInsideAny guards the walk itself: an invalid value inside a
// typed_config passes the bootstrap's own ValidateAll and is caught only by
// unpacking.
func TestWalkReachesInsideAny(t *testing.T) {
	bad := strings.Replace(string(readBootstrap(t)), "stat_prefix: ingress_http", `stat_prefix: ""`, 1)
	var doc any
	if err := yaml.Unmarshal([]byte(bad), &doc); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(doc)
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(js, b); err != nil {
		t.Fatal(err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("top-level validation already catches it (test premise broken): %v", err)
	}
	if _, err := validateAnys(b.ProtoReflect(), "bootstrap"); err == nil {
		t.Fatal("walk did not find the invalid stat_prefix inside the HttpConnectionManager")
	}
}
