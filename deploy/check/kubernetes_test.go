package check

// The Kubernetes manifests as kubectl apply -k applies them: each
// kustomization under deploy/kubernetes is built with kustomize's own
// library (krusty, the code inside kubectl), every object is decoded
// strictly into its real Go type (k8s.io/api, sigs.k8s.io/gateway-api,
// Envoy Gateway's and Traefik's CRD types), and the references between
// objects, the gatehouse configuration in the ConfigMap (loaded with
// gatehouse's own loader) and the proxy variants are checked. Istio's files
// are decoded into Istio's API types.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const k8sDir = "../kubernetes"

// k8sResult is everything checkKubernetes found, per build.
type k8sResult struct {
	err      error // a build or decoding error
	problems map[string]problems
}

// has reports whether a problem of some build contains s.
func (r k8sResult) has(s string) bool {
	for _, p := range r.problems {
		if p.has(s) {
			return true
		}
	}
	return false
}

func (r k8sResult) report(t *testing.T) {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	for build, ps := range r.problems {
		for _, p := range ps {
			t.Errorf("%s: %s", build, p)
		}
	}
}

// checkKubernetes builds and checks everything under dir (a copy of
// deploy/kubernetes) and istioDir; traefikDynamic is Traefik's file
// configuration the Kubernetes variant must match.
func checkKubernetes(tmp, dir, istioDir, traefikDynamic string) k8sResult {
	res := k8sResult{problems: map[string]problems{}}
	fail := func(err error) k8sResult { res.err = err; return res }
	secrets, err := decodeFile(filepath.Join(dir, "secret.example.yaml"))
	if err != nil {
		return fail(err)
	}
	ss := all[corev1.Secret](secrets)
	if len(ss) != 1 || len(secrets.objs) != 1 {
		res.problems["secret.example.yaml"] = problems{"want exactly one Secret"}
		return res
	}
	secret := ss[0]
	var bundled *gatehouse
	for i, build := range []string{".", "external-redis"} {
		m, err := kustomize(filepath.Join(dir, build))
		if err != nil {
			return fail(err)
		}
		g, p := checkCore(filepath.Join(tmp, build), m, secret)
		switch {
		case g == nil || g.cfg == nil || len(g.cfg.Redis.Addrs) == 0:
			res.problems[build] = p
			return res
		case i == 0:
			bundled = g
			if find[corev1.Service](m, g.ns, "redis") == nil {
				p.addf("deploy/kubernetes must bundle a Redis")
			}
		case find[corev1.Service](m, g.ns, "redis") != nil || g.cfg.Redis.Addrs[0] == bundled.cfg.Redis.Addrs[0]:
			p.addf("external-redis still uses the bundled Redis")
		}
		res.problems[build] = p
	}
	dyn, err := loadDynamic(traefikDynamic)
	if err != nil {
		return fail(err)
	}
	for name, check := range map[string]func(*gatehouse, *manifests) problems{
		"traefik":       func(g *gatehouse, v *manifests) problems { return checkTraefik(g, v, dyn) },
		"envoy-gateway": checkEnvoyGateway,
		"gateway-api":   checkGatewayAPI,
	} {
		v, err := kustomize(filepath.Join(dir, name))
		if err != nil {
			return fail(err)
		}
		res.problems[name] = check(bundled, v)
	}
	res.problems["istio"] = checkIstio(bundled, filepath.Join(istioDir, "meshconfig.yaml"), filepath.Join(istioDir, "authorizationpolicy.yaml"))
	return res
}

func TestKubernetes(t *testing.T) {
	checkKubernetes(t.TempDir(), k8sDir, "../istio", "../traefik/dynamic.yml").report(t)
}

// TestKubernetesREADME checks that the README gives the commands and
// names the image placeholder the tests hold the manifests to.
func TestKubernetesREADME(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(k8sDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"kubectl apply -k deploy/kubernetes\n",
		"kubectl apply -k deploy/kubernetes/external-redis",
		"kubectl -n gatehouse create secret generic gatehouse",
		"registry.example.invalid/gatehouse",
		"kustomize edit set image gatehouse=",
		"docker build",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}

// TestKubernetesChecksCatchMistakes breaks a copy of the manifests in one
// place at a time and expects the checks to name the mistake.
func TestKubernetesChecksCatchMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 string // in the error or a problem
	}{
		{"misspelt field", "base/gatehouse.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
		{"unknown Envoy Gateway field", "envoy-gateway/envoy-gateway.yaml", "failOpen: false", "failopen: false", `unknown field "spec.extAuth.failopen"`},
		{"unknown Traefik field", "traefik/traefik.yaml", "trustForwardHeader: false", "trustForwardHeaders: false", `unknown field "spec.forwardAuth.trustForwardHeaders"`},
		{"unknown Gateway API field", "gateway-api/gateway-api.yaml", "protocol: GRPC", "protocols: GRPC", `unknown field "spec.rules[0].filters[0].externalAuth.protocols"`},
		{"wrong Service selector", "base/gatehouse.yaml", "  selector: {app.kubernetes.io/name: gatehouse}\n  # The admin", "  selector: {app.kubernetes.io/name: gatehause}\n  # The admin", "Service gatehouse selects"},
		{"wrong Deployment selector", "base/gatehouse.yaml", "    matchLabels: {app.kubernetes.io/name: gatehouse}\n  strategy", "    matchLabels: {app.kubernetes.io/name: gate}\n  strategy", "does not select its own pods"},
		{"wrong targetPort", "base/gatehouse.yaml", "targetPort: grpc,", "targetPort: grpcx,", "targetPort grpcx is none of gatehouse's container ports"},
		{"container port not the listener", "base/gatehouse.yaml", "containerPort: 9191", "containerPort: 9192", "grpc.addr 0.0.0.0:9191: port 9191 is none of gatehouse's container ports"},
		{"wrong ForwardAuth port", "traefik/traefik.yaml", "svc.cluster.local:4180/", "svc.cluster.local:9191/", `reaches gatehouse's "grpc" listener, want http`},
		{"wrong SecurityPolicy port", "envoy-gateway/envoy-gateway.yaml", "port: 9191}", "port: 4180}", `extAuth reaches gatehouse's "http" listener, want grpc`},
		{"wrong Istio port", "../istio/meshconfig.yaml", "port: 9191", "port: 4180", `reaches gatehouse's "http" listener, want grpc`},
		{"unknown Istio field", "../istio/meshconfig.yaml", "failOpen: false", "failopen: false", `unknown field "failopen"`},
		{"missing ReferenceGrant", "envoy-gateway/envoy-gateway.yaml", "    - {group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: app}\n", "", "no ReferenceGrant in gatehouse allows SecurityPolicy from app"},
		{"Traefik cross namespace", "traefik/traefik.yaml", "- {name: gatehouse, port: 4180, passHostHeader: true}", "- {name: gatehouse, namespace: other, port: 4180, passHostHeader: true}", "needs allowCrossNamespace"},
		{"Traefik strips less than dynamic.yml", "traefik/traefik.yaml", "      X-Forwarded-Prefix: \"\"\n---\n# --- namespace app", "---\n# --- namespace app", "differs from dynamic.yml's strip-identity"},
		{"subPath mount", "base/gatehouse.yaml", "mountPath: /etc/gatehouse/config,", "mountPath: /etc/gatehouse/config/gatehouse.yaml, subPath: gatehouse.yaml,", "with subPath"},
		{"policy file outside the ConfigMap", "base/config/gatehouse.yaml", "policy_file: /etc/gatehouse/config/policy.yaml", "policy_file: /etc/gatehouse/policy.yaml", "does not load"},
		{"unknown gatehouse setting", "base/config/gatehouse.yaml", "session:\n  store: redis", "session:\n  store: redis\n  stor: redis", "does not load"},
		{"Secret key missing", "secret.example.yaml", "  admin-token:", "  admin-tokens:", "admin.token_file names /etc/gatehouse/secrets/admin-token, which is no file"},
		{"Secret key missing (read by Load)", "secret.example.yaml", "  oidc-client-secret:", "  oidc-secret:", "does not load"},
		{"Redis password key differs", "redis/redis.yaml", "key: redis-password", "key: admin-token", "Redis requires the password in Secret gatehouse key admin-token"},
		{"admin listener open", "base/gatehouse.yaml", "        - {protocol: TCP, port: 9191}\n", "        - {protocol: TCP, port: 9191}\n        - {protocol: TCP, port: 4181}\n", "admits every client to the admin listener"},
		{"admin port on the Service", "base/gatehouse.yaml", "appProtocol: grpc}\n", "appProtocol: grpc}\n    - {name: admin, port: 4181, targetPort: admin}\n", "exposes the admin listener"},
		{"Redis open to all", "redis/redis.yaml", "    - from:\n        - podSelector:\n            matchLabels: {app.kubernetes.io/name: gatehouse}\n      ports:", "    - ports:", "must admit gatehouse's pods, and only them"},
		{"Secret unreadable", "base/gatehouse.yaml", "defaultMode: 0440", "defaultMode: 0400", "cannot read the files of volume secrets"},
		{"root", "base/gatehouse.yaml", "runAsUser: 65532", "runAsUser: 0", "must set runAsNonRoot and a non-zero runAsUser"},
		{"liveness on readyz", "base/gatehouse.yaml", "path: /healthz", "path: /readyz", "HTTP /healthz probe"},
		{"published-by-nothing image", "base/kustomization.yaml", "newName: registry.example.invalid/gatehouse", "newName: ghcr.io/gatehouse/gatehouse", "want the placeholder"},
		{"unchecked route", "gateway-api/gateway-api.yaml", "      backendRefs:\n        - {name: app, port: 5050}\n", "      backendRefs:\n        - {name: app, port: 5050}\n    - matches:\n        - path: {type: PathPrefix, value: /api/}\n      backendRefs:\n        - {name: app, port: 5050}\n", "have no ExternalAuth filter"},
		{"fail open", "envoy-gateway/envoy-gateway.yaml", "failOpen: false", "failOpen: true", "fail closed"},
		{"PDB blocks drains", "base/gatehouse.yaml", "minAvailable: 1", "minAvailable: 2", "minAvailable must be below the replicas"},
		{"no /oauth2/ route", "envoy-gateway/envoy-gateway.yaml", "value: /oauth2/}", "value: /oauth/}", "must match exactly PathPrefix /oauth2/"},
		{"external Redis is the bundled name", "external-redis/kustomization.yaml", "value: redis.example.internal:6379", "value: redis:6379", "redis.addrs redis:6379 names a Service that the build does not have"},
		{"unknown gatehouse variable", "external-redis/kustomization.yaml", "name: GATEHOUSE_REDIS_ADDRS", "name: GATEHOUSE_REDIS_ADDR", "env GATEHOUSE_REDIS_ADDR is not a gatehouse setting"},
		{"Istio guards a path list", "../istio/authorizationpolicy.yaml", `notPaths: ["/oauth2/*"]`, `paths: ["/admin/*"]`, "want only notPaths"},
		{"Traefik route differs", "traefik/traefik.yaml", "priority: 2000", "priority: 20", "router refuse-upgrade has no IngressRoute route"},
		{"Gateway API enum", "gateway-api/gateway-api.yaml", "path: {type: PathPrefix, value: /oauth2/}", "path: {type: Prefix, value: /oauth2/}", `Unsupported value: "Prefix"`},
		{"Envoy Gateway enum", "envoy-gateway/envoy-gateway.yaml", "statusOnError: 503", "statusOnError: 299", "Unsupported value: 299"},
		{"Envoy Gateway 403 on error", "envoy-gateway/envoy-gateway.yaml", "statusOnError: 503", "statusOnError: 403", "statusOnError must be 503"},
		{"Traefik type", "traefik/traefik.yaml", "priority: 1000", "priority: high", "must be of type integer"},
		{"configuration warning", "base/config/gatehouse.yaml", "cookie:\n", "cookie:\n  secure: false\n", "draws a warning: cookie.secure"},
		{"namespace missing", "base/kustomization.yaml", "  - namespace.yaml\n", "", "want exactly one Namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			deploy := filepath.Join(tmp, "deploy")
			dir, err := copyTree(deploy, k8sDir)
			if err != nil {
				t.Fatal(err)
			}
			istio, err := copyTree(deploy, "../istio")
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, tc.file)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(string(data), tc.old) != 1 {
				t.Fatalf("%s holds %q %d times, want once", tc.file, tc.old, strings.Count(string(data), tc.old))
			}
			if err := os.WriteFile(file, []byte(strings.Replace(string(data), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			res := checkKubernetes(filepath.Join(tmp, "scratch"), dir, istio, "../traefik/dynamic.yml")
			if res.err != nil {
				if !strings.Contains(res.err.Error(), tc.want) {
					t.Errorf("error %v, want one saying %q", res.err, tc.want)
				}
				return
			}
			if !res.has(tc.want) {
				t.Errorf("no problem says %q; got %v", tc.want, res.problems)
			}
		})
	}
}
