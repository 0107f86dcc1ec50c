package deploy_test

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// classifierService is the gRPC service readiness asks grpc.health.v1
// about: SERVING only once a model is loaded and until shutdown begins.
const classifierService = "artclass.v1.ClassifierService"

// TestOverlays renders every overlay and checks, one named property at a
// time, what the fleet relies on.
func TestOverlays(t *testing.T) {
	checks := []struct {
		name  string
		check func(*testing.T, *manifests)
	}{
		{"three replicas under an autoscaler that targets them", checkScale},
		{"gRPC probes on the listen port", checkProbes},
		{"grace period outlasts shutdown delay and drain", checkShutdown},
		{"pods run restricted", checkSecurity},
		{"images set and pinned", checkImages},
		{"resources requested and limited", checkResources},
		{"headless gRPC Service and HTTP Service select the servers only", checkServices},
		{"disruption budget selects the servers", checkPDB},
		{"admin token mounted from its Secret", checkAdminToken},
		{"files and caches on volumes", checkVolumes},
		{"metrics port exposed and annotated", checkMetrics},
		{"trainer publishes to the servers' store", checkTrainer},
		{"store reachable as the URL says", checkStore},
		{"every reference resolves", checkReferences},
	}
	for _, overlay := range overlays() {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			m := render(t, overlay)
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) { c.check(t, m) })
			}
		})
	}
}

func checkScale(t *testing.T, m *manifests) {
	d, _ := m.server(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("Deployment %s replicas = %v, want 3", d.Name, d.Spec.Replicas)
	}
	if len(m.hpas) != 1 {
		t.Fatalf("%d HorizontalPodAutoscalers, want 1", len(m.hpas))
	}
	h := m.hpas[0]
	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA %s targets %s %s %s, want apps/v1 Deployment %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != *d.Spec.Replicas || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HPA %s replicas %v..%d, want min = the Deployment's %d <= max", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas, *d.Spec.Replicas)
	}
	cpu := false
	for _, mt := range h.Spec.Metrics {
		if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU && mt.Resource.Target.AverageUtilization != nil {
			cpu = true
		}
	}
	if !cpu {
		t.Errorf("HPA %s has no CPU utilization target", h.Name)
	}
}

// listenPort is the port of the address a --*listen flag names.
func listenPort(t *testing.T, args []string, flag string) int32 {
	t.Helper()
	addr, ok := flagValue(args, flag)
	if !ok {
		t.Fatalf("artclassd has no --%s", flag)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--%s=%s: %v", flag, addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("--%s=%s listens on %q only: the kubelet and other pods cannot reach it", flag, addr, host)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("--%s=%s: port: %v", flag, addr, err)
	}
	return int32(n)
}

func checkProbes(t *testing.T, m *manifests) {
	_, c := m.server(t)
	port := listenPort(t, c.Args, "listen")
	probes := []struct {
		name    string
		probe   *corev1.Probe
		service string
	}{
		{"readiness", c.ReadinessProbe, classifierService},
		{"liveness", c.LivenessProbe, ""},
		{"startup", c.StartupProbe, ""},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.GRPC == nil {
			t.Errorf("%s probe is not a native gRPC probe: %+v", p.name, p.probe)
			continue
		}
		g := p.probe.GRPC
		service := ""
		if g.Service != nil {
			service = *g.Service
		}
		if g.Port != port || service != p.service {
			t.Errorf("%s probe asks port %d service %q, want port %d (--listen) service %q", p.name, g.Port, service, port, p.service)
		}
	}
}

// duration is the value of a duration flag, which the manifests must set:
// the grace period is checked against it, not against a default.
func duration(t *testing.T, args []string, flag string) time.Duration {
	t.Helper()
	v, ok := flagValue(args, flag)
	if !ok {
		t.Fatalf("artclassd args set no --%s", flag)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("--%s=%s: %v", flag, v, err)
	}
	return d
}

func checkShutdown(t *testing.T, m *manifests) {
	d, c := m.server(t)
	shutdown := duration(t, c.Args, "shutdown-delay") + duration(t, c.Args, "shutdown-timeout")
	grace := time.Duration(-1)
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace <= shutdown {
		t.Errorf("terminationGracePeriodSeconds (%v; -1ns if unset) is not longer than --shutdown-delay + --shutdown-timeout = %v: the kubelet would kill calls in flight", grace, shutdown)
	}
	// The server reports NOT_SERVING on "" too while it shuts down; a
	// liveness probe must not restart it for that.
	if p := c.LivenessProbe; p != nil && time.Duration(p.PeriodSeconds*p.FailureThreshold)*time.Second <= shutdown {
		t.Errorf("liveness fails after %ds x %d, within the %v shutdown", p.PeriodSeconds, p.FailureThreshold, shutdown)
	}
	if age, ok := flagValue(c.Args, "max-connection-age"); !ok {
		t.Error("no --max-connection-age: clients balancing over dns:/// would never reach new pods")
	} else if d, err := time.ParseDuration(age); err != nil || d <= 0 {
		t.Errorf("--max-connection-age=%s is not a positive duration", age)
	}
}

func checkSecurity(t *testing.T, m *manifests) {
	for _, w := range m.workloads() {
		spec := &w.pod.Spec
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext %+v does not run as a non-root user", w.name, psc)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccomp profile is not RuntimeDefault", w.name)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it never uses", w.name)
		}
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: Service links would put variables such as ARTCLASS_HTTP_PORT in the environment artclassd reads flags from", w.name)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: shares a host namespace", w.name)
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s/%s: no securityContext", w.name, c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s/%s: privilege escalation allowed", w.name, c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("%s/%s: root filesystem is writable", w.name, c.Name)
			case sc.Privileged != nil && *sc.Privileged:
				t.Errorf("%s/%s: privileged", w.name, c.Name)
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
				t.Errorf("%s/%s: capabilities %+v, want drop ALL and add none", w.name, c.Name, sc.Capabilities)
			case sc.RunAsUser != nil && *sc.RunAsUser == 0:
				t.Errorf("%s/%s: runs as root", w.name, c.Name)
			}
		}
	}
	if len(m.namespaces) != 1 || m.namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("want one Namespace enforcing the restricted Pod Security Standard, got %d", len(m.namespaces))
	}
}

func checkImages(t *testing.T, m *manifests) {
	for _, w := range m.workloads() {
		for _, c := range append(slices.Clone(w.pod.Spec.InitContainers), w.pod.Spec.Containers...) {
			ref := c.Image
			name, digest, hasDigest := strings.Cut(ref, "@")
			tag := ""
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				tag = name[i+1:]
			}
			switch {
			case ref == "":
				t.Errorf("%s/%s: no image", w.name, c.Name)
			case !strings.Contains(name, "/"):
				t.Errorf("%s/%s: image %q names no registry: the kustomization's images entry did not apply", w.name, c.Name, ref)
			case hasDigest && !strings.HasPrefix(digest, "sha256:"):
				t.Errorf("%s/%s: image %q has a malformed digest", w.name, c.Name, ref)
			case !hasDigest && (tag == "" || tag == "latest"):
				t.Errorf("%s/%s: image %q is not pinned to a version tag or digest", w.name, c.Name, ref)
			}
		}
	}
}

func checkResources(t *testing.T, m *manifests) {
	for _, w := range m.workloads() {
		for _, c := range w.pod.Spec.Containers {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				if !okReq || !okLim || req.IsZero() {
					t.Errorf("%s/%s: %s request %v and limit %v: want both", w.name, c.Name, r, req.String(), lim.String())
				} else if req.Cmp(lim) > 0 {
					t.Errorf("%s/%s: %s request %s above its limit %s", w.name, c.Name, r, req.String(), lim.String())
				}
			}
		}
	}
}

// containerPort is the number of the named port of c.
func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

// targetPort resolves a Service port's target against the container.
func targetPort(t *testing.T, c *corev1.Container, sp corev1.ServicePort) int32 {
	t.Helper()
	if sp.TargetPort.StrVal != "" {
		return containerPort(t, c, sp.TargetPort.StrVal)
	}
	if sp.TargetPort.IntVal != 0 {
		return sp.TargetPort.IntVal
	}
	return sp.Port
}

func checkServices(t *testing.T, m *manifests) {
	d, c := m.server(t)
	podLabels := labels.Set(d.Spec.Template.Labels)
	j, _ := m.trainer(t)
	trainerLabels := labels.Set(j.Spec.Template.Labels)
	grpcPort := listenPort(t, c.Args, "listen")
	httpPort := listenPort(t, c.Args, "http-listen")
	var headless, http int
	for _, s := range m.services {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		if len(s.Spec.Selector) == 0 || !sel.Matches(podLabels) {
			t.Errorf("Service %s selector %v does not select the artclassd pods %v", s.Name, s.Spec.Selector, podLabels)
		}
		if sel.Matches(trainerLabels) {
			t.Errorf("Service %s selector %v also selects the trainer's pods", s.Name, s.Spec.Selector)
		}
		for _, sp := range s.Spec.Ports {
			switch tp := targetPort(t, c, sp); {
			case s.Spec.ClusterIP == corev1.ClusterIPNone && tp == grpcPort:
				headless++
			case s.Spec.ClusterIP != corev1.ClusterIPNone && tp == httpPort:
				http++
			default:
				t.Errorf("Service %s (clusterIP %q) port %s goes to %d: neither headless gRPC (%d) nor HTTP (%d)", s.Name, s.Spec.ClusterIP, sp.Name, tp, grpcPort, httpPort)
			}
		}
	}
	if headless != 1 {
		t.Errorf("%d headless Service ports to gRPC %d, want 1 (clients balance over dns:/// with round_robin)", headless, grpcPort)
	}
	if http != 1 {
		t.Errorf("%d ClusterIP Service ports to HTTP %d, want 1", http, httpPort)
	}
}

func checkPDB(t *testing.T, m *manifests) {
	d, _ := m.server(t)
	if len(m.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	p := m.pdbs[0]
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil {
		t.Fatalf("PDB %s selector: %v", p.Name, err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PDB %s selector %v does not select the Deployment's pods %v", p.Name, sel, d.Spec.Template.Labels)
	}
	switch {
	case p.Spec.MaxUnavailable != nil:
		if v := p.Spec.MaxUnavailable.IntValue(); p.Spec.MaxUnavailable.StrVal == "" && (v < 1 || v >= int(*d.Spec.Replicas)) {
			t.Errorf("PDB %s maxUnavailable %d: want at least 1 (drains must progress) and fewer than %d replicas", p.Name, v, *d.Spec.Replicas)
		}
	case p.Spec.MinAvailable != nil:
		if v := p.Spec.MinAvailable.IntValue(); p.Spec.MinAvailable.StrVal == "" && v >= int(*d.Spec.Replicas) {
			t.Errorf("PDB %s minAvailable %d blocks every drain of %d replicas", p.Name, v, *d.Spec.Replicas)
		}
	default:
		t.Errorf("PDB %s sets neither maxUnavailable nor minAvailable", p.Name)
	}
}

func checkAdminToken(t *testing.T, m *manifests) {
	d, c := m.server(t)
	file, ok := flagValue(c.Args, "admin-token-file")
	if !ok {
		t.Fatal("artclassd has no --admin-token-file: Train and ActivateModel would be disabled")
	}
	vm, ok := mountFor(c, file)
	if !ok {
		t.Fatalf("--admin-token-file=%s is on no volume", file)
	}
	v, _ := volume(&d.Spec.Template, vm.Name)
	secret := ""
	if v.Secret != nil {
		secret = v.Secret.SecretName
	}
	if secret != "artclass-admin-token" || !vm.ReadOnly {
		t.Fatalf("--admin-token-file=%s is on volume %s (Secret %q, read-only %t), want the Secret artclass-admin-token mounted read-only", file, vm.Name, secret, vm.ReadOnly)
	}
	// The file's name in the mount is the Secret key, or the path an item
	// maps the key to.
	rel := strings.TrimPrefix(path.Clean(strings.TrimPrefix(file, vm.MountPath)), "/")
	if vm.SubPath != "" {
		rel = path.Join(vm.SubPath, rel)
	}
	found := len(v.Secret.Items) == 0 && slices.Contains(externalSecrets()[v.Secret.SecretName], rel)
	for _, it := range v.Secret.Items {
		found = found || it.Path == rel
	}
	if !found {
		t.Errorf("--admin-token-file=%s: the Secret volume has no file %q", file, rel)
	}
	if mode := v.Secret.DefaultMode; mode == nil || *mode&0o007 != 0 {
		t.Errorf("the token file is readable by everyone (defaultMode %v)", mode)
	}
}

// pathFlags are the flags whose value is a path inside the container, and
// whether the process writes there.
func pathFlags() map[string]bool {
	return map[string]bool{
		"admin-token-file": false,
		"tls-cert":         false,
		"tls-key":          false,
		"client-ca":        false,
		"data":             false,
		"model":            false,
		"model-cache":      true,
		"model-dir":        true,
	}
}

func checkVolumes(t *testing.T, m *manifests) {
	written := pathFlags()
	for _, w := range m.workloads() {
		for _, c := range w.pod.Spec.Containers {
			for _, flag := range slices.Sorted(maps.Keys(written)) {
				p, ok := flagValue(c.Args, flag)
				if !ok {
					continue
				}
				// The root filesystem is read-only and holds only the
				// binaries: every file named must come from a volume.
				vm, ok := mountFor(&c, p)
				if !ok {
					t.Errorf("%s/%s: --%s=%s is on no volume", w.name, c.Name, flag, p)
					continue
				}
				if written[flag] && vm.ReadOnly {
					t.Errorf("%s/%s: --%s=%s is written, but volume %s is read-only", w.name, c.Name, flag, p, vm.Name)
				}
			}
		}
	}
	d, c := m.server(t)
	cache, ok := flagValue(c.Args, "model-cache")
	if !ok {
		t.Fatal("artclassd has no --model-cache: a restart while the store is down would serve nothing")
	}
	vm, _ := mountFor(c, cache)
	if v, _ := volume(&d.Spec.Template, vm.Name); v.EmptyDir == nil {
		t.Errorf("--model-cache=%s is on volume %s, want an emptyDir (it survives container restarts, not the pod)", cache, vm.Name)
	}
}

func checkMetrics(t *testing.T, m *manifests) {
	d, c := m.server(t)
	port := listenPort(t, c.Args, "metrics-listen")
	if got := containerPort(t, c, "metrics"); got != port {
		t.Errorf("container port metrics = %d, --metrics-listen port %d", got, port)
	}
	a := d.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(int(port)) || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v do not point a Prometheus scraper at :%d/metrics", a, port)
	}
}

func checkTrainer(t *testing.T, m *manifests) {
	j, c := m.trainer(t)
	argv, _, err := m.commandLine(c)
	if err != nil {
		t.Fatal(err)
	}
	if path.Base(argv[0]) != "artclass" || len(argv) < 2 || argv[1] != "train" {
		t.Fatalf("trainer runs %q, want artclass train", argv)
	}
	if p := j.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
		t.Errorf("trainer restartPolicy %q", p)
	}
	data, ok := flagValue(argv, "data")
	if !ok {
		t.Fatal("trainer has no --data")
	}
	vm, ok := mountFor(c, data)
	if !ok {
		t.Fatalf("--data=%s is on no volume", data)
	}
	if v, _ := volume(&j.Spec.Template, vm.Name); v.PersistentVolumeClaim == nil && v.ConfigMap == nil {
		t.Errorf("--data=%s is on volume %s, want the training-data claim or a ConfigMap", data, vm.Name)
	}
	trainStore, ok := flagValue(argv, "store")
	if !ok {
		t.Fatal("trainer has no --store")
	}
	_, sc := m.server(t)
	serverArgv, _, err := m.commandLine(sc)
	if err != nil {
		t.Fatal(err)
	}
	if serveStore, _ := flagValue(serverArgv, "model-store"); serveStore != trainStore {
		t.Errorf("trainer publishes to %q, the servers follow %q", trainStore, serveStore)
	}
}

// checkStore checks that what each workload needs to open its store URL is
// there: the directory on a shared read-write volume for file://, the
// credentials for s3://.
func checkStore(t *testing.T, m *manifests) {
	for _, w := range m.workloads() {
		c := &w.pod.Spec.Containers[0]
		argv, vars, err := m.commandLine(c)
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := flagValue(argv, "model-store")
		if !ok {
			raw, ok = flagValue(argv, "store")
		}
		if !ok {
			t.Fatalf("%s/%s names no store", w.name, c.Name)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s/%s: store URL %q: %v", w.name, c.Name, raw, err)
		}
		switch u.Scheme {
		case "file":
			vm, ok := mountFor(c, u.Path)
			if !ok || vm.ReadOnly {
				t.Errorf("%s/%s: store %s is not on a read-write volume", w.name, c.Name, raw)
				continue
			}
			v, _ := volume(w.pod, vm.Name)
			if v.PersistentVolumeClaim == nil {
				t.Errorf("%s/%s: store %s is on volume %s, not a PersistentVolumeClaim", w.name, c.Name, raw, vm.Name)
				continue
			}
			pvc, ok := m.pvcs[v.PersistentVolumeClaim.ClaimName]
			if !ok || !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
				t.Errorf("%s/%s: store claim %s is not ReadWriteMany: every replica and the trainer mount it", w.name, c.Name, v.PersistentVolumeClaim.ClaimName)
			}
		case "s3":
			if u.Host == "" {
				t.Errorf("%s/%s: store %s names no bucket", w.name, c.Name, raw)
			}
			if u.Query().Get("region") == "" {
				t.Errorf("%s/%s: store %s names no region", w.name, c.Name, raw)
			}
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
				if !strings.HasPrefix(vars[k], "placeholder-for-secret-") {
					t.Errorf("%s/%s: %s does not come from a Secret", w.name, c.Name, k)
				}
			}
		default:
			t.Errorf("%s/%s: store %s: scheme %q is not file or s3", w.name, c.Name, raw, u.Scheme)
		}
	}
}

// checkReferences checks that every ConfigMap, Secret and claim a pod
// refers to is in the manifests, or is a Secret docs/deploy.md tells the
// operator to create.
func checkReferences(t *testing.T, m *manifests) {
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatalf("docs/deploy.md: %v", err)
	}
	secret := func(where, name, key string) {
		if s, ok := m.secrets[name]; ok {
			if _, ok := s.Data[key]; !ok {
				t.Errorf("%s: Secret %s has no key %q", where, name, key)
			}
			return
		}
		keys, ok := externalSecrets()[name]
		switch {
		case !ok:
			t.Errorf("%s: Secret %s is neither in the manifests nor a documented external Secret", where, name)
		case key != "" && !slices.Contains(keys, key):
			t.Errorf("%s: Secret %s key %q is not one of %v", where, name, key, keys)
		case !strings.Contains(string(doc), "create secret generic "+name):
			t.Errorf("%s: docs/deploy.md does not show how to create Secret %s", where, name)
		}
	}
	for _, w := range m.workloads() {
		for _, v := range w.pod.Spec.Volumes {
			switch {
			case v.Secret != nil:
				for _, it := range v.Secret.Items {
					secret(w.name, v.Secret.SecretName, it.Key)
				}
				if len(v.Secret.Items) == 0 {
					secret(w.name, v.Secret.SecretName, "")
				}
			case v.ConfigMap != nil:
				if _, ok := m.configMaps[v.ConfigMap.Name]; !ok {
					t.Errorf("%s: ConfigMap %s is not in the manifests", w.name, v.ConfigMap.Name)
				}
			case v.PersistentVolumeClaim != nil:
				if _, ok := m.pvcs[v.PersistentVolumeClaim.ClaimName]; !ok {
					t.Errorf("%s: claim %s is not in the manifests", w.name, v.PersistentVolumeClaim.ClaimName)
				}
			}
		}
		for _, c := range w.pod.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secret(w.name+"/"+c.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
				}
			}
			if _, err := m.env(&c); err != nil {
				t.Errorf("%s/%s: %v", w.name, c.Name, err)
			}
		}
	}
	for _, o := range m.elsewhere {
		t.Errorf("%s, want artclass", o)
	}
}
