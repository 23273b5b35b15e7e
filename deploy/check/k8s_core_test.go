package check

// Checks of gatehouse's own objects: the Deployment, its Service,
// disruption budget, NetworkPolicies, ConfigMap and Secret, the bundled
// Redis, and the configuration loaded with gatehouse's own loader.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gatehouse/gatehouse/internal/config"
)

// placeholderImage is what the kustomization sets gatehouse's image to
// until the user sets their own: no image is published.
const placeholderImage = "registry.example.invalid/gatehouse:set-me"

// nonrootUID is the distroless "nonroot" user the Dockerfile's image runs as.
const nonrootUID = 65532

// acceptedWarnings are the configuration warnings (config.Warnings) the
// shipped manifests draw on purpose, by setting, and why; any other fails.
var acceptedWarnings = map[string]string{
	"redis.tls.enabled": "the bundled Redis speaks plain TCP inside the cluster, and its NetworkPolicy admits gatehouse's pods only; external-redis turns TLS on",
	"admin.addr":        "plain HTTP inside the pod network: the admin port is in no Service and its NetworkPolicy admits Prometheus only",
}

// gatehouse is what a checked build holds for the proxy variants to be
// checked against.
type gatehouse struct {
	m   *manifests
	ns  string
	dep *appsv1.Deployment
	svc *corev1.Service
	cfg *config.Config
	// listeners maps "http", "grpc" and "admin" to the port the loaded
	// configuration listens on.
	listeners map[string]int32
}

// listenerOf names the gatehouse listener that a reference to Service
// namespace/name on port reaches, or "" when it reaches none.
func (g *gatehouse) listenerOf(namespace, name string, port int32) string {
	if g == nil || g.svc == nil || namespace != g.ns || name != g.svc.Name {
		return ""
	}
	for _, sp := range g.svc.Spec.Ports {
		if sp.Port != port {
			continue
		}
		cp, ok := targetPort(&g.dep.Spec.Template.Spec, sp)
		if !ok {
			return ""
		}
		for l, p := range g.listeners {
			if p == cp {
				return l
			}
		}
	}
	return ""
}

// serviceHost resolves a cluster DNS name (svc, svc.ns, svc.ns.svc,
// svc.ns.svc.cluster.local) seen from namespace from to a namespace and
// Service name.
func serviceHost(host, from string) (namespace, name string, ok bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		return from, parts[0], true
	case len(parts) == 2:
		return parts[1], parts[0], true
	case len(parts) == 3 && parts[2] == "svc":
		return parts[1], parts[0], true
	case len(parts) == 5 && strings.Join(parts[2:], ".") == "svc.cluster.local":
		return parts[1], parts[0], true
	}
	return "", "", false
}

// containerPortOf resolves a port by number or name to a port that a
// container of the pod declares.
func containerPortOf(spec *corev1.PodSpec, p intstr.IntOrString) (int32, bool) {
	for _, c := range spec.Containers {
		for _, cp := range c.Ports {
			if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// targetPort resolves a Service port to the container port it reaches.
func targetPort(spec *corev1.PodSpec, sp corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int && tp.IntVal == 0 {
		tp = intstr.FromInt32(sp.Port)
	}
	return containerPortOf(spec, tp)
}

// selectedDeployments returns the Deployments in namespace whose pods sel
// selects.
func selectedDeployments(m *manifests, namespace string, sel labels.Selector) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range all[appsv1.Deployment](m) {
		if d.Namespace == namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			out = append(out, d)
		}
	}
	return out
}

func labelSelector(p *problems, what string, ls *metav1.LabelSelector) labels.Selector {
	if ls == nil {
		p.addf("%s has no selector", what)
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		p.addf("%s: selector: %v", what, err)
		return labels.Nothing()
	}
	return sel
}

func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.StringData {
		keys[k] = true
	}
	for k := range s.Data {
		keys[k] = true
	}
	return keys
}

// checkWorkload checks what every Deployment must get right: its selector,
// non-root and read-only, resources, and that every ConfigMap, Secret and
// key it names exists and is readable by the user it runs as.
func checkWorkload(p *problems, m *manifests, secret *corev1.Secret, d *appsv1.Deployment) {
	what := describe(d)
	if d.Spec.Selector != nil && !labelSelector(p, what, d.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		p.addf("%s: selector %v does not select its own pods (labels %v)", what, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	} else if d.Spec.Selector == nil {
		p.addf("%s has no selector", what)
	}
	spec := &d.Spec.Template.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		p.addf("%s: automountServiceAccountToken must be false (neither gatehouse nor Redis calls the API server)", what)
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, c := range spec.Containers {
		checkContainer(p, m, secret, d, psc, &c)
	}
	checkVolumes(p, m, secret, d)
}

// checkContainer checks one container of d: non-root, read-only, no
// privilege, resources, probe ports, the ConfigMap and Secret keys its
// environment reads, and its mounts (no subPath, readable files).
func checkContainer(p *problems, m *manifests, secret *corev1.Secret, d *appsv1.Deployment, psc *corev1.PodSecurityContext, c *corev1.Container) {
	spec := &d.Spec.Template.Spec
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	cw := describe(d) + " container " + c.Name
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	nonRoot, uid, gid := psc.RunAsNonRoot, psc.RunAsUser, psc.RunAsGroup
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		uid = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		gid = sc.RunAsGroup
	}
	if nonRoot == nil || !*nonRoot || uid == nil || *uid == 0 {
		p.addf("%s: must set runAsNonRoot and a non-zero runAsUser", cw)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		p.addf("%s: readOnlyRootFilesystem must be true", cw)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		p.addf("%s: allowPrivilegeEscalation must be false", cw)
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		p.addf("%s: must drop ALL capabilities", cw)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		p.addf("%s: needs cpu and memory requests and a memory limit", cw)
	}
	for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if probe == nil {
			continue
		}
		var port intstr.IntOrString
		switch {
		case probe.HTTPGet != nil:
			port = probe.HTTPGet.Port
		case probe.TCPSocket != nil:
			port = probe.TCPSocket.Port
		case probe.GRPC != nil:
			port = intstr.FromInt32(probe.GRPC.Port)
		default:
			continue
		}
		if _, ok := containerPortOf(spec, port); !ok {
			p.addf("%s: probe port %s is none of its container ports", cw, port.String())
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Name != secret.Name || !secretKeys(secret)[r.Key]) {
			p.addf("%s: env %s reads key %q of Secret %s, which secret.example.yaml does not have", cw, e.Name, r.Key, r.Name)
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			if cm := find[corev1.ConfigMap](m, d.Namespace, r.Name); cm == nil || !hasKey(cm, r.Key) {
				p.addf("%s: env %s reads key %q of ConfigMap %s, which does not exist", cw, e.Name, r.Key, r.Name)
			}
		}
	}
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			p.addf("%s: mounts volume %s, which the pod does not have", cw, vm.Name)
			continue
		}
		var mode *int32
		switch {
		case v.ConfigMap != nil:
			mode = v.ConfigMap.DefaultMode
		case v.Secret != nil:
			mode = v.Secret.DefaultMode
		default:
			continue
		}
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			p.addf("%s: mounts volume %s with subPath: kubelet never updates a subPath mount, so edits (and the policy hot reload) would not reach the pod", cw, vm.Name)
		}
		if !readable(mode, psc, uid, gid) {
			p.addf("%s: runs as uid %v and cannot read the files of volume %s (mode %o, fsGroup %v)", cw, deref(uid), vm.Name, deref(mode), deref(psc.FSGroup))
		}
	}
}

// checkVolumes checks that every ConfigMap, Secret and key d's volumes name
// exists.
func checkVolumes(p *problems, m *manifests, secret *corev1.Secret, d *appsv1.Deployment) {
	what := describe(d)
	for _, v := range d.Spec.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			cm := find[corev1.ConfigMap](m, d.Namespace, v.ConfigMap.Name)
			if cm == nil {
				p.addf("%s: volume %s names ConfigMap %s, which the build does not have", what, v.Name, v.ConfigMap.Name)
				continue
			}
			for _, it := range v.ConfigMap.Items {
				if !hasKey(cm, it.Key) {
					p.addf("%s: volume %s names key %s, which ConfigMap %s does not have", what, v.Name, it.Key, cm.Name)
				}
			}
		case v.Secret != nil:
			if v.Secret.SecretName != secret.Name || secret.Namespace != d.Namespace {
				p.addf("%s: volume %s names Secret %s, which is not secret.example.yaml's %s/%s", what, v.Name, v.Secret.SecretName, secret.Namespace, secret.Name)
			}
			for _, it := range v.Secret.Items {
				if !secretKeys(secret)[it.Key] {
					p.addf("%s: volume %s names key %s, which the Secret does not have", what, v.Name, it.Key)
				}
			}
		}
	}
}

func hasKey(cm *corev1.ConfigMap, k string) bool {
	_, a := cm.Data[k]
	_, b := cm.BinaryData[k]
	return a || b
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// readable reports whether a process with uid and gid (plus fsGroup and the
// supplemental groups) can read the files kubelet writes for a ConfigMap or
// Secret volume: owned by root, group fsGroup when set (root otherwise),
// with mode (0644 by default).
func readable(mode *int32, psc *corev1.PodSecurityContext, uid, gid *int64) bool {
	m := int32(0o644)
	if mode != nil {
		m = *mode
	}
	if uid != nil && *uid == 0 {
		return true
	}
	if m&0o004 != 0 {
		return true
	}
	if m&0o040 == 0 {
		return false
	}
	if psc.FSGroup != nil {
		return true // the files' group, which kubelet adds to every container's groups
	}
	return (gid != nil && *gid == 0) || slices.Contains(psc.SupplementalGroups, 0)
}

// checkCore checks the build of a gatehouse kustomization (deploy/kubernetes
// or an overlay) with the example Secret. tmp is a scratch directory.
func checkCore(tmp string, m *manifests, secret *corev1.Secret) (*gatehouse, problems) {
	var p problems
	nss := all[corev1.Namespace](m)
	if len(nss) != 1 {
		p.addf("want exactly one Namespace in the build (gatehouse's), got %d", len(nss))
		return nil, p
	}
	g := &gatehouse{m: m, ns: nss[0].Name, listeners: map[string]int32{}}
	for _, o := range m.objs {
		a, err := meta.Accessor(o)
		if err != nil {
			p.addf("%T: %v", o, err)
			continue
		}
		if _, isNS := o.(*corev1.Namespace); !isNS && a.GetNamespace() != g.ns {
			p.addf("%s is not in gatehouse's namespace %s", describe(o), g.ns)
		}
	}
	if secret.Namespace != g.ns {
		p.addf("secret.example.yaml's Secret is in namespace %q, not %s", secret.Namespace, g.ns)
	}
	for _, d := range all[appsv1.Deployment](m) {
		checkWorkload(&p, m, secret, d)
	}
	g.dep = find[appsv1.Deployment](m, g.ns, "gatehouse")
	g.svc = find[corev1.Service](m, g.ns, "gatehouse")
	if g.dep == nil || g.svc == nil {
		p.addf("the build has no Deployment and Service gatehouse in %s", g.ns)
		return nil, p
	}
	checkGatehouseDeployment(&p, tmp, g, secret)
	checkGatehouseService(&p, g)
	checkNetworkPolicies(&p, g)
	checkRedis(&p, g, secret)
	return g, p
}

func gatehouseContainer(d *appsv1.Deployment) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "gatehouse" {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}

// checkGatehouseDeployment checks gatehouse's Deployment, loads the
// configuration in its ConfigMap with gatehouse's own loader, and checks the
// listeners, probes and disruption budget against it.
func checkGatehouseDeployment(p *problems, tmp string, g *gatehouse, secret *corev1.Secret) {
	d := g.dep
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		p.addf("%s: want 2 or more replicas (sessions are shared through Redis)", describe(d))
	}
	c := gatehouseContainer(d)
	if c == nil {
		p.addf("%s has no container named gatehouse", describe(d))
		return
	}
	if c.Image != placeholderImage {
		p.addf("gatehouse's image is %q, want the placeholder %q that README.md tells the user to replace (no image is published)", c.Image, placeholderImage)
	}
	var uid *int64
	if sc := d.Spec.Template.Spec.SecurityContext; sc != nil {
		uid = sc.RunAsUser
	}
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		uid = c.SecurityContext.RunAsUser
	}
	if uid == nil || *uid != nonrootUID {
		p.addf("gatehouse runs as uid %v, want %d (the image's nonroot user)", deref(uid), nonrootUID)
	}
	pod, err := layOutPod(filepath.Join(tmp, "pod"), g, c, secret)
	if err != nil {
		p.addf("%v", err)
		return
	}
	if g.cfg = loadConfig(p, pod, c); g.cfg == nil {
		return
	}
	checkListeners(p, g, c)
	checkPDB(p, g)
}

// podFiles is the files of a container's ConfigMap and Secret directory
// mounts, laid out under root as the container sees them.
type podFiles struct {
	root   string
	mounts []podMount
}

type podMount struct {
	path      string
	configMap bool
}

// inConfigMap reports whether file (a path in the container) is in a
// ConfigMap mounted as a directory.
func (f *podFiles) inConfigMap(file string) bool {
	return slices.ContainsFunc(f.mounts, func(mt podMount) bool {
		return mt.configMap && strings.HasPrefix(path.Clean(file), path.Clean(mt.path)+"/")
	})
}

// local maps a path in the container to the laid-out file.
func (f *podFiles) local(file string) string { return filepath.Join(f.root, file) }

// layOutPod writes the ConfigMap's keys and the Secret's keys (with made-up
// values gatehouse accepts) where container c mounts them.
func layOutPod(root string, g *gatehouse, c *corev1.Container, secret *corev1.Secret) (*podFiles, error) {
	pod := &podFiles{root: root}
	volumes := map[string]corev1.Volume{}
	for _, v := range g.dep.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v := volumes[vm.Name]
		files := map[string][]byte{}
		switch {
		case vm.SubPath != "":
			continue // reported by checkWorkload; its file is not in a directory mount
		case v.ConfigMap != nil:
			cm := find[corev1.ConfigMap](g.m, g.ns, v.ConfigMap.Name)
			if cm == nil {
				continue // reported by checkWorkload
			}
			for k, val := range cm.Data {
				files[k] = []byte(val)
			}
		case v.Secret != nil:
			for k := range secretKeys(secret) {
				files[k] = fakeSecret(k)
			}
		default:
			continue
		}
		pod.mounts = append(pod.mounts, podMount{vm.MountPath, v.ConfigMap != nil})
		dir := pod.local(vm.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		for k, data := range files {
			if err := os.WriteFile(filepath.Join(dir, k), data, 0o600); err != nil {
				return nil, err
			}
		}
	}
	return pod, nil
}

// loadConfig loads the file that container c's --config names with
// gatehouse's loader, the container's environment and the laid-out files,
// and checks what the configuration names: its files, its policy file (in
// a ConfigMap directory, for hot reload), and no unexpected warning.
func loadConfig(p *problems, pod *podFiles, c *corev1.Container) *config.Config {
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		p.addf("gatehouse's args %v name no --config file", c.Args)
		return nil
	}
	cfgPath := c.Args[i+1]
	if !pod.inConfigMap(cfgPath) {
		p.addf("--config %s is not a file of a ConfigMap mounted as a directory", cfgPath)
		return nil
	}
	data, err := os.ReadFile(pod.local(cfgPath))
	if err != nil {
		p.addf("--config %s: the ConfigMap has no such key: %v", cfgPath, err)
		return nil
	}
	// The configuration names files by their paths in the container.
	var pairs []string
	for _, mt := range pod.mounts {
		pairs = append(pairs, mt.path+"/", pod.local(mt.path)+"/")
	}
	if err := os.WriteFile(pod.local(cfgPath), []byte(strings.NewReplacer(pairs...).Replace(string(data))), 0o600); err != nil {
		p.addf("%v", err)
		return nil
	}
	env := map[string]string{}
	var environ []string
	for _, e := range c.Env {
		environ = append(environ, e.Name+"=")
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		} else if r := e.ValueFrom.SecretKeyRef; r != nil {
			env[e.Name] = string(fakeSecret(r.Key))
		}
	}
	for _, name := range config.UnknownEnv(environ) {
		p.addf("gatehouse's env %s is not a gatehouse setting", name)
	}
	cfg, err := config.Load(pod.local(cfgPath), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		p.addf("the configuration in the ConfigMap does not load with the Secret's keys as files: %v", err)
		return nil
	}
	for _, w := range cfg.Warnings() {
		if _, ok := acceptedWarnings[w.Path]; !ok {
			p.addf("the configuration in the ConfigMap draws a warning: %s", w)
		}
	}
	// Not every file is read by Load (admin.token_file is read at start).
	for setting, file := range configFiles(reflect.ValueOf(*cfg), "") {
		if _, err := os.Stat(file); err != nil {
			p.addf("%s names %s, which is no file of the pod's ConfigMap and Secret mounts", setting, strings.TrimPrefix(file, pod.root))
		}
	}
	if pf := cfg.Access.PolicyFile; pf == "" {
		p.addf("access.policy_file is not set: a policy edit would need a restart")
	} else if rel, ok := strings.CutPrefix(pf, pod.root); !ok || !pod.inConfigMap(rel) {
		p.addf("access.policy_file %s is not in a ConfigMap mounted as a directory: edits would not reach the pods", pf)
	}
	return cfg
}

// checkListeners records the configuration's listen ports as g.listeners
// and checks them against the container's ports and probes.
func checkListeners(p *problems, g *gatehouse, c *corev1.Container) {
	spec := &g.dep.Spec.Template.Spec
	for name, addr := range map[string]string{"http": g.cfg.HTTP.Addr, "grpc": g.cfg.GRPC.Addr, "admin": g.cfg.Admin.Addr} {
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			p.addf("%s.addr %q is not host:port", name, addr)
			continue
		}
		if host != "" && host != "0.0.0.0" && host != "::" {
			p.addf("%s.addr %s listens on %s only: nothing outside the pod can reach it", name, addr, host)
		}
		if _, ok := containerPortOf(spec, intstr.FromInt32(int32(n))); !ok {
			p.addf("%s.addr %s: port %d is none of gatehouse's container ports", name, addr, n)
			continue
		}
		g.listeners[name] = int32(n)
	}
	for probe, want := range map[string]*corev1.Probe{"/readyz": c.ReadinessProbe, "/healthz": c.LivenessProbe} {
		if want == nil || want.HTTPGet == nil || want.HTTPGet.Path != probe {
			p.addf("gatehouse needs an HTTP %s probe (readiness /readyz, liveness /healthz)", probe)
			continue
		}
		if port, _ := containerPortOf(spec, want.HTTPGet.Port); port != g.listeners["http"] {
			p.addf("gatehouse's %s probe goes to port %s, not http.addr's %d", probe, want.HTTPGet.Port.String(), g.listeners["http"])
		}
	}
}

// checkPDB checks that one PodDisruptionBudget covers gatehouse's pods and
// still lets a node be drained.
func checkPDB(p *problems, g *gatehouse) {
	d := g.dep
	pdbs := 0
	for _, b := range all[policyv1.PodDisruptionBudget](g.m) {
		if b.Namespace != g.ns || !labelSelector(p, describe(b), b.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		pdbs++
		if b.Spec.MinAvailable == nil || d.Spec.Replicas == nil || b.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
			p.addf("%s: minAvailable must be below the replicas, or no node could ever be drained", describe(b))
		}
	}
	if pdbs != 1 {
		p.addf("want one PodDisruptionBudget selecting gatehouse's pods, got %d", pdbs)
	}
}

// configFiles returns every file a configuration names (the values of its
// *_file and *_files settings) by setting.
func configFiles(v reflect.Value, prefix string) map[string]string {
	out := map[string]string{}
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := strings.TrimPrefix(prefix+"."+name, ".")
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			maps.Copy(out, configFiles(f, key))
		case f.Kind() == reflect.String && strings.HasSuffix(name, "_file") && f.String() != "":
			out[key] = f.String()
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String && strings.HasSuffix(name, "_files"):
			for j := range f.Len() {
				out[key+"["+strconv.Itoa(j)+"]"] = f.Index(j).String()
			}
		}
	}
	return out
}

// fakeSecret makes a value that gatehouse accepts for a Secret key: a
// cookie key for cookie-*, 32 random bytes in hex for anything else.
func fakeSecret(key string) []byte {
	b := make([]byte, 32)
	rand.Read(b)
	if strings.Contains(key, "cookie") {
		return []byte(base64.StdEncoding.EncodeToString(b) + "\n")
	}
	return []byte(hex.EncodeToString(b) + "\n")
}

// checkGatehouseService checks that gatehouse's Service selects its pods
// only and offers the HTTP and gRPC listeners, not the admin one.
func checkGatehouseService(p *problems, g *gatehouse) {
	sel := labels.SelectorFromSet(g.svc.Spec.Selector)
	if len(g.svc.Spec.Selector) == 0 {
		sel = labels.Nothing()
	}
	if deps := selectedDeployments(g.m, g.ns, sel); len(deps) != 1 || deps[0] != g.dep {
		p.addf("Service %s selects %v, which selects %d Deployments, not just gatehouse's pods (labels %v)", g.svc.Name, g.svc.Spec.Selector, len(deps), g.dep.Spec.Template.Labels)
	}
	reached := map[string]bool{}
	for _, sp := range g.svc.Spec.Ports {
		if _, ok := targetPort(&g.dep.Spec.Template.Spec, sp); !ok {
			p.addf("Service %s port %d: targetPort %s is none of gatehouse's container ports", g.svc.Name, sp.Port, sp.TargetPort.String())
			continue
		}
		reached[g.listenerOf(g.ns, g.svc.Name, sp.Port)] = true
	}
	if g.cfg == nil {
		return
	}
	for _, l := range []string{"http", "grpc"} {
		if !reached[l] {
			p.addf("Service %s has no port for the %s listener (port %d)", g.svc.Name, l, g.listeners[l])
		}
	}
	if reached["admin"] {
		p.addf("Service %s exposes the admin listener", g.svc.Name)
	}
}

// checkNetworkPolicies checks every NetworkPolicy's selectors and ports, and
// that the policies selecting gatehouse's pods admit the HTTP and gRPC
// listeners and the admin listener only from chosen peers.
func checkNetworkPolicies(p *problems, g *gatehouse) {
	var mine []*networkingv1.NetworkPolicy
	for _, np := range all[networkingv1.NetworkPolicy](g.m) {
		sel := labelSelector(p, describe(np), &np.Spec.PodSelector)
		deps := selectedDeployments(g.m, np.Namespace, sel)
		if len(deps) == 0 {
			p.addf("%s selects no pods of the build", describe(np))
		}
		for _, d := range deps {
			if d == g.dep {
				mine = append(mine, np)
			}
			for _, r := range np.Spec.Ingress {
				for _, port := range r.Ports {
					if port.Port == nil {
						continue
					}
					if _, ok := containerPortOf(&d.Spec.Template.Spec, *port.Port); !ok {
						p.addf("%s: port %s is none of %s's container ports", describe(np), port.Port.String(), d.Name)
					}
				}
				for _, peer := range r.From {
					if peer.PodSelector != nil && peer.NamespaceSelector == nil &&
						len(selectedDeployments(g.m, np.Namespace, labelSelector(p, describe(np), peer.PodSelector))) == 0 {
						p.addf("%s: a from podSelector %v selects no pods of the build", describe(np), peer.PodSelector.MatchLabels)
					}
				}
			}
		}
	}
	if len(mine) == 0 {
		p.addf("no NetworkPolicy selects gatehouse's pods: the admin listener is open to the whole cluster")
		return
	}
	if g.cfg == nil {
		return
	}
	for l, port := range g.listeners {
		admitted, open := admits(g.dep, mine, port, nil)
		switch {
		case l == "admin" && open:
			p.addf("a NetworkPolicy admits every client to the admin listener (port %d)", port)
		case l != "admin" && !admitted:
			p.addf("the NetworkPolicies block gatehouse's %s listener (port %d): the proxies could not reach it", l, port)
		}
	}
}

// admits reports whether the policies admit someone to port of d's pods,
// and whether they admit everyone. With from set, admitted reports whether
// a peer selecting the pods of from (same namespace) is admitted.
func admits(d *appsv1.Deployment, nps []*networkingv1.NetworkPolicy, port int32, from *appsv1.Deployment) (admitted, open bool) {
	for _, np := range nps {
		if len(np.Spec.PolicyTypes) > 0 && !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			return true, true // not isolated for ingress
		}
		for _, r := range np.Spec.Ingress {
			portOK := len(r.Ports) == 0
			for _, rp := range r.Ports {
				if rp.Protocol != nil && *rp.Protocol != corev1.ProtocolTCP {
					continue
				}
				if rp.Port == nil {
					portOK = true
				} else if n, ok := containerPortOf(&d.Spec.Template.Spec, *rp.Port); ok && n == port {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			if len(r.From) == 0 {
				return true, true
			}
			if from == nil {
				admitted = true
				continue
			}
			for _, peer := range r.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
					continue
				}
				if sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector); err == nil && np.Namespace == from.Namespace && sel.Matches(labels.Set(from.Spec.Template.Labels)) {
					admitted = true
				}
			}
		}
	}
	return admitted, open
}

// checkRedis checks that redis.addrs reaches the bundled Redis when the
// build has one (its Service, port, NetworkPolicy and password), and
// names no missing Service when it has none.
func checkRedis(p *problems, g *gatehouse, secret *corev1.Secret) {
	if g.cfg == nil {
		return
	}
	bundled := find[appsv1.Deployment](g.m, g.ns, "redis")
	if len(g.cfg.Redis.Addrs) == 0 {
		p.addf("redis.addrs is empty")
	}
	for _, addr := range g.cfg.Redis.Addrs {
		host, portStr, err := net.SplitHostPort(addr)
		port, perr := strconv.Atoi(portStr)
		if err != nil || perr != nil {
			p.addf("redis.addrs %q is not host:port", addr)
			continue
		}
		ns, name, ok := serviceHost(host, g.ns)
		svc := find[corev1.Service](g.m, ns, name)
		if svc == nil {
			if bundled != nil {
				p.addf("redis.addrs %s does not reach the bundled Redis's Service", addr)
			} else if !strings.Contains(host, ".") || (ok && strings.Contains(host, ".svc")) {
				p.addf("redis.addrs %s names a Service that the build does not have", addr)
			}
			continue
		}
		var target int32
		for _, sp := range svc.Spec.Ports {
			if sp.Port != int32(port) {
				continue
			}
			deps := selectedDeployments(g.m, svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector))
			if len(svc.Spec.Selector) == 0 || len(deps) != 1 {
				p.addf("Service %s selects %d Deployments, want one", svc.Name, len(deps))
				continue
			}
			if n, ok := targetPort(&deps[0].Spec.Template.Spec, sp); ok {
				target = n
				var nps []*networkingv1.NetworkPolicy
				for _, np := range all[networkingv1.NetworkPolicy](g.m) {
					if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err == nil && np.Namespace == deps[0].Namespace && sel.Matches(labels.Set(deps[0].Spec.Template.Labels)) {
						nps = append(nps, np)
					}
				}
				if len(nps) == 0 {
					p.addf("no NetworkPolicy keeps Redis to gatehouse's pods")
				} else if admitted, open := admits(deps[0], nps, n, g.dep); !admitted || open {
					p.addf("the NetworkPolicies of Redis must admit gatehouse's pods, and only them, to port %d (admitted %v, open to all %v)", n, admitted, open)
				}
				checkRedisPassword(p, g, deps[0], secret)
			}
		}
		if target == 0 {
			p.addf("redis.addrs %s: Service %s has no port %d reaching a container port", addr, svc.Name, port)
		}
	}
}

// checkRedisPassword checks that the bundled Redis requires the password
// that gatehouse reads, from the same Secret key.
func checkRedisPassword(p *problems, g *gatehouse, redis *appsv1.Deployment, secret *corev1.Secret) {
	key := path.Base(g.cfg.Redis.PasswordFile)
	if g.cfg.Redis.PasswordFile == "" || !secretKeys(secret)[key] {
		p.addf("redis.password_file %q is not a key of the Secret", g.cfg.Redis.PasswordFile)
		return
	}
	for _, c := range redis.Spec.Template.Spec.Containers {
		i := slices.Index(c.Args, "--requirepass")
		if i < 0 || i+1 >= len(c.Args) {
			continue
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && c.Args[i+1] == "$("+e.Name+")" {
				if r := e.ValueFrom.SecretKeyRef; r.Name != secret.Name || r.Key != key {
					p.addf("Redis requires the password in Secret %s key %s, gatehouse reads key %s", r.Name, r.Key, key)
				}
				return
			}
		}
	}
	p.addf("the bundled Redis does not require a password from the Secret (--requirepass $(VAR), VAR from secretKeyRef)")
}
