package deploy_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// overlays are the directories a user applies with kubectl apply -k. Every
// one of them is rendered and checked.
func overlays() []string { return []string{"overlays/file", "overlays/s3"} }

// externalSecrets are the Secrets the manifests use but do not contain, by
// name, with their keys: no secret is ever committed. docs/deploy.md says
// how to create each.
func externalSecrets() map[string][]string {
	return map[string][]string{
		"artclass-admin-token":    {"token"},
		"artclass-s3-credentials": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
	}
}

// manifests are the objects one overlay renders, each decoded into its
// k8s.io/api type.
type manifests struct {
	overlay     string
	namespaces  []*corev1.Namespace
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	jobs        []*batchv1.Job
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pvcs        map[string]*corev1.PersistentVolumeClaim
	// elsewhere lists the namespaced objects outside the artclass
	// namespace, where no reference from the workloads reaches them.
	elsewhere []string
}

// render builds the kustomization in dir with kustomize's Go API, as
// kubectl apply -k does, and decodes every object strictly.
func render(t *testing.T, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{
		overlay:    dir,
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		pvcs:       map[string]*corev1.PersistentVolumeClaim{},
	}
	for _, r := range resMap.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatalf("%s: %s as YAML: %v", dir, r.CurId(), err)
		}
		gvk := r.GetApiVersion() + " " + r.GetKind()
		if ns := r.GetNamespace(); r.GetKind() != "Namespace" && ns != "artclass" {
			m.elsewhere = append(m.elsewhere, fmt.Sprintf("%s %s in namespace %q", gvk, r.GetName(), ns))
		}
		if err := m.add(gvk, b); err != nil {
			t.Fatalf("%s: %s %s: %v", dir, gvk, r.GetName(), err)
		}
	}
	return m
}

// add decodes one object by its apiVersion and kind. A kind the test does
// not know is an error, so nothing reaches a cluster unchecked.
func (m *manifests) add(gvk string, b []byte) error {
	switch gvk {
	case "v1 Namespace":
		return decodeInto(b, &m.namespaces)
	case "apps/v1 Deployment":
		return decodeInto(b, &m.deployments)
	case "v1 Service":
		return decodeInto(b, &m.services)
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(b, &m.pdbs)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return decodeInto(b, &m.hpas)
	case "batch/v1 Job":
		return decodeInto(b, &m.jobs)
	case "v1 ConfigMap":
		return decodeNamed(b, m.configMaps, func(o *corev1.ConfigMap) string { return o.Name })
	case "v1 Secret":
		return decodeNamed(b, m.secrets, func(o *corev1.Secret) string { return o.Name })
	case "v1 PersistentVolumeClaim":
		return decodeNamed(b, m.pvcs, func(o *corev1.PersistentVolumeClaim) string { return o.Name })
	default:
		return fmt.Errorf("unknown kind %q: decode and check it in render_test.go before shipping it", gvk)
	}
}

// decodeStrict decodes YAML into o, failing on a field o's type does not
// have (a misspelt or misplaced key) and on a duplicated key.
func decodeStrict(b []byte, o any) error {
	if err := yaml.UnmarshalStrict(b, o); err != nil {
		return fmt.Errorf("strict decode into %T: %w", o, err)
	}
	return nil
}

func decodeInto[T any](b []byte, list *[]*T) error {
	o := new(T)
	if err := decodeStrict(b, o); err != nil {
		return err
	}
	*list = append(*list, o)
	return nil
}

func decodeNamed[T any](b []byte, byName map[string]*T, name func(*T) string) error {
	o := new(T)
	if err := decodeStrict(b, o); err != nil {
		return err
	}
	if _, dup := byName[name(o)]; dup {
		return fmt.Errorf("two objects named %q", name(o))
	}
	byName[name(o)] = o
	return nil
}

// workload is a pod template with the name of what owns it.
type workload struct {
	name string
	pod  *corev1.PodTemplateSpec
}

// workloads are the pod templates of every Deployment and Job.
func (m *manifests) workloads() []workload {
	var w []workload
	for _, d := range m.deployments {
		w = append(w, workload{"Deployment " + d.Name, &d.Spec.Template})
	}
	for _, j := range m.jobs {
		w = append(w, workload{"Job " + j.Name, &j.Spec.Template})
	}
	return w
}

// server returns the one artclassd Deployment and its artclassd container.
func (m *manifests) server(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1 (artclassd)", len(m.deployments))
	}
	d := m.deployments[0]
	return d, container(t, &d.Spec.Template, "artclassd")
}

// trainer returns the one trainer Job and its container.
func (m *manifests) trainer(t *testing.T) (*batchv1.Job, *corev1.Container) {
	t.Helper()
	if len(m.jobs) != 1 {
		t.Fatalf("%d Jobs, want 1 (the trainer)", len(m.jobs))
	}
	j := m.jobs[0]
	return j, container(t, &j.Spec.Template, "trainer")
}

func container(t *testing.T, pod *corev1.PodTemplateSpec, name string) *corev1.Container {
	t.Helper()
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

// env returns the variables a container starts with, resolved as the
// kubelet resolves them: literal values, ConfigMap keys from the rendered
// ConfigMaps, resource fields from the container's resources. A Secret's
// key, not in the manifests, gets a placeholder.
func (m *manifests) env(c *corev1.Container) (map[string]string, error) {
	vars := map[string]string{}
	for _, e := range c.Env {
		switch src := e.ValueFrom; {
		case src == nil:
			vars[e.Name] = expand(e.Value, vars)
		case src.ConfigMapKeyRef != nil:
			ref := src.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			if !ok {
				return nil, fmt.Errorf("env %s: ConfigMap %q is not in the manifests", e.Name, ref.Name)
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: ConfigMap %q has no key %q", e.Name, ref.Name, ref.Key)
			}
			vars[e.Name] = v
		case src.SecretKeyRef != nil:
			vars[e.Name] = "placeholder-for-secret-" + src.SecretKeyRef.Name + "-" + src.SecretKeyRef.Key
		case src.ResourceFieldRef != nil:
			v, err := resourceField(c, src.ResourceFieldRef)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			vars[e.Name] = v
		default:
			return nil, fmt.Errorf("env %s: a source the test cannot resolve", e.Name)
		}
	}
	return vars, nil
}

// resourceField is the value the downward API gives for ref: a memory
// quantity in bytes, CPU in whole cores rounded up (the divisor 1).
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	if !ref.Divisor.IsZero() {
		return "", fmt.Errorf("resourceFieldRef %s: the test resolves only the default divisor", ref.Resource)
	}
	var list corev1.ResourceList
	kind, name, _ := strings.Cut(ref.Resource, ".")
	switch kind {
	case "limits":
		list = c.Resources.Limits
	case "requests":
		list = c.Resources.Requests
	default:
		return "", fmt.Errorf("resourceFieldRef %q is not limits.* or requests.*", ref.Resource)
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: the container sets no %s", ref.Resource, ref.Resource)
	}
	if name == "cpu" {
		return fmt.Sprint((q.MilliValue() + 999) / 1000), nil
	}
	return fmt.Sprint(q.Value()), nil
}

// expand replaces $(NAME) in s by the variable's value, as the kubelet does
// in command, args and env values: $$ is a literal $, and a reference to an
// unknown variable is left as it is.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name := s[i+2 : i+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// commandLine is a container's command and args after variable expansion,
// the argv its process gets.
func (m *manifests) commandLine(c *corev1.Container) ([]string, map[string]string, error) {
	vars, err := m.env(c)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Command) == 0 {
		return nil, nil, fmt.Errorf("container %s sets no command: the manifests must not depend on the image's entrypoint", c.Name)
	}
	var argv []string
	for _, a := range append(append([]string(nil), c.Command...), c.Args...) {
		x := expand(a, vars)
		if strings.Contains(x, "$(") {
			return nil, nil, fmt.Errorf("container %s: %q refers to a variable the container does not define", c.Name, a)
		}
		argv = append(argv, x)
	}
	return argv, vars, nil
}

// flagValue returns the value of --name in args, given as --name=value,
// -name=value or --name value.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		for _, prefix := range []string{"--", "-"} {
			switch {
			case a == prefix+name && i+1 < len(args):
				return args[i+1], true
			case strings.HasPrefix(a, prefix+name+"="):
				return a[len(prefix+name+"="):], true
			}
		}
	}
	return "", false
}

// mountFor returns the volume mount whose path holds path, the deepest one
// if mounts nest.
func mountFor(c *corev1.Container, path string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		if !found || len(vm.MountPath) > len(best.MountPath) {
			best, found = vm, true
		}
	}
	return best, found
}

func volume(pod *corev1.PodTemplateSpec, name string) (corev1.Volume, bool) {
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}
