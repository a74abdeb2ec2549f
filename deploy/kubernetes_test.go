package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/papyrad/papyrad/internal/testutil"
)

// codec decodes manifests strictly into the API types: an unknown field, a field spelled in
// another case, a duplicate key or an unregistered kind is an error.
var codec = func() *kjson.Serializer {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: true, Strict: true})
}()

// decodeStrict decodes every YAML document of b.
func decodeStrict(b []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("split documents: %w", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := codec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(out)+1, err)
		}
		out = append(out, obj)
	}
}

// manifests are the objects of deploy/kubernetes, one of each kind.
type manifests struct {
	deployment *appsv1.Deployment
	cronJob    *batchv1.CronJob
	configMap  *corev1.ConfigMap
	pvc        *corev1.PersistentVolumeClaim
	podMonitor *monitoringv1.PodMonitor
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in kubernetes/: %v", err)
	}
	for _, f := range files {
		if filepath.Ext(f) != ".yaml" {
			t.Fatalf("%s: every file in kubernetes/ is a manifest, named .yaml", f)
		}
	}
	var m manifests
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeStrict(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			var again bool
			switch o := o.(type) {
			case *appsv1.Deployment:
				again, m.deployment = m.deployment != nil, o
			case *batchv1.CronJob:
				again, m.cronJob = m.cronJob != nil, o
			case *corev1.ConfigMap:
				again, m.configMap = m.configMap != nil, o
			case *corev1.PersistentVolumeClaim:
				again, m.pvc = m.pvc != nil, o
			case *monitoringv1.PodMonitor:
				again, m.podMonitor = m.podMonitor != nil, o
			default:
				t.Fatalf("%s: unexpected %T", f, o)
			}
			if again {
				t.Fatalf("%s: a second %T", f, o)
			}
		}
	}
	if m.deployment == nil || m.cronJob == nil || m.configMap == nil || m.pvc == nil || m.podMonitor == nil {
		t.Fatalf("want a Deployment, a CronJob, a ConfigMap, a PersistentVolumeClaim and a PodMonitor: %+v", m)
	}
	return m
}

// TestStrictDecodingRejectsMistakes: the decoder the manifests pass refuses each kind of
// mistake a hand-edited manifest has, in real manifests with one thing changed.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"unknown field", "deployment.yaml", "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", `unknown field "spec.template.spec.terminationGracePeriodSecond"`},
		{"wrong case", "deployment.yaml", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", `unknown field "spec.template.spec.containers[1].securityContext.readOnlyRootFileSystem"`},
		{"duplicate key", "deployment.yaml", "      terminationGracePeriodSeconds: 90\n", "      terminationGracePeriodSeconds: 90\n      terminationGracePeriodSeconds: 30\n", `key "terminationGracePeriodSeconds" already set`},
		{"CronJob field", "cronjob.yaml", "concurrencyPolicy:", "concurencyPolicy:", `unknown field "spec.concurencyPolicy"`},
		{"PodMonitor field", "podmonitor.yaml", "podMetricsEndpoints:", "podMetricEndpoints:", `unknown field "spec.podMetricEndpoints"`},
		{"unknown kind", "configmap.yaml", "kind: ConfigMap", "kind: Configmap", `no kind "Configmap" is registered`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("kubernetes", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := decodeStrict(b); err != nil {
				t.Fatalf("as shipped: %v", err)
			}
			if !bytes.Contains(b, []byte(tc.old)) {
				t.Fatalf("%s does not contain %q", tc.file, tc.old)
			}
			_, err = decodeStrict(bytes.Replace(b, []byte(tc.old), []byte(tc.new), 1))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("with %q: err = %v, want one containing %s", tc.new, err, tc.want)
			}
		})
	}
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func volume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("no volume %q", name)
	return nil
}

// mountOf returns the mount of c under which p lies (the deepest), or nil.
func mountOf(c *corev1.Container, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		if (p == vm.MountPath || strings.HasPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/")) &&
			(best == nil || len(vm.MountPath) > len(best.MountPath)) {
			best = vm
		}
	}
	return best
}

// flagValue returns the value of --name in args ("--name V" or "--name=V").
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// effectiveConfig is the part of `papyrad config check`'s output these tests read.
type effectiveConfig struct {
	Daemon struct {
		StateDir        string `json:"state_dir"`
		MetricsListen   string `json:"metrics_listen"`
		ShutdownTimeout string `json:"shutdown_timeout"`
		ControlSocket   string `json:"control_socket"`
	} `json:"daemon"`
	Stores []struct {
		Name          string `json:"name"`
		Backend       string `json:"backend"`
		Path          string `json:"path"`
		QuarantineDir string `json:"quarantine_dir"`
		Archive       *struct {
			Dir string `json:"dir"`
		} `json:"archive"`
	} `json:"stores"`
}

// papyradPod is a pod that runs papyrad: the sidecar's or the CronJob's.
type papyradPod struct {
	name       string
	spec       *corev1.PodSpec
	subcommand string
}

// TestKubernetesManifests decodes every manifest strictly, runs the papyrad commands they
// hold against papyrad's own CLI (every subcommand and flag exists, the shipped config is
// valid), and checks that the pieces fit: the config file is the ConfigMap's, every path
// papyrad writes is on a writable volume (the root file system is read-only), the store is
// where the application writes it, the probes and the PodMonitor reach the metrics listener,
// and papyrad has the capabilities it can use and no others.
func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	bin, err := testutil.Build(t.TempDir(), "github.com/papyrad/papyrad/cmd/papyrad")
	if err != nil {
		t.Fatal(err)
	}
	pods := []papyradPod{
		{"the Deployment's sidecar", &m.deployment.Spec.Template.Spec, "run"},
		{"the CronJob", &m.cronJob.Spec.JobTemplate.Spec.Template.Spec, "compact"},
	}
	var eff effectiveConfig
	for _, p := range pods {
		t.Run(p.name, func(t *testing.T) {
			c := container(t, p.spec, "papyrad")
			args := slices.Concat(c.Command, c.Args)
			if len(args) == 0 || args[0] != p.subcommand {
				t.Fatalf("papyrad %v: want the %s subcommand", args, p.subcommand)
			}
			// The config file is a key of the manifests' ConfigMap, mounted read-only.
			cfgPath, ok := flagValue(args, "config")
			if !ok {
				t.Fatalf("papyrad %v: no --config", args)
			}
			vm := mountOf(c, cfgPath)
			if vm == nil || !vm.ReadOnly {
				t.Fatalf("--config %s: not on a read-only mount: %+v", cfgPath, vm)
			}
			v := volume(t, p.spec, vm.Name)
			if v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Name {
				t.Fatalf("--config %s: volume %s is not ConfigMap %s", cfgPath, vm.Name, m.configMap.Name)
			}
			key := strings.TrimPrefix(cfgPath, strings.TrimSuffix(vm.MountPath, "/")+"/")
			data, ok := m.configMap.Data[key]
			if !ok {
				t.Fatalf("--config %s: ConfigMap %s has no key %q", cfgPath, m.configMap.Name, key)
			}
			local := filepath.Join(t.TempDir(), key)
			if err := os.WriteFile(local, []byte(data), 0o640); err != nil {
				t.Fatal(err)
			}
			localArgs := slices.Clone(args)
			localArgs[slices.Index(localArgs, cfgPath)] = local

			// Every subcommand and flag exists: cobra refuses an unknown one, even with
			// --help (64), and the usage shown is the subcommand's.
			out, err := exec.Command(bin, append(localArgs, "--help")...).CombinedOutput()
			if err != nil {
				t.Fatalf("papyrad %v --help: %v\n%s", args, err, out)
			}
			if !strings.Contains(string(out), "papyrad "+args[0]+" ") {
				t.Errorf("papyrad %v --help shows another command's usage:\n%s", args, out)
			}
			// The shipped config is valid, and says where papyrad writes.
			out, err = exec.Command(bin, "config", "check", "--config", local).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := errors.AsType[*exec.ExitError](err); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("papyrad config check of ConfigMap %s's %s: %v\n%s", m.configMap.Name, key, err, stderr)
			}
			if err := yaml.Unmarshal(out, &eff); err != nil {
				t.Fatalf("config check's output: %v\n%s", err, out)
			}
			checkWritable(t, p, c, eff)
			checkSecurity(t, p, c)
		})
	}
	// The check itself fails for a flag papyrad does not have.
	if err := exec.Command(bin, "run", "--confg", "x", "--help").Run(); err == nil {
		t.Error("papyrad run --confg x --help succeeded: the flag check above proves nothing")
	}
	if eff.Daemon.MetricsListen == "" {
		t.Fatal("no config was checked")
	}
	checkSidecar(t, m, eff)
	checkCronJob(t, m.cronJob)
}

// checkWritable: every directory papyrad writes is on a writable volume, and a store's is
// the application's, at the same path.
func checkWritable(t *testing.T, p papyradPod, c *corev1.Container, eff effectiveConfig) {
	t.Helper()
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("%s: root file system not read-only", p.name)
	}
	dirs := map[string]string{"daemon.state_dir": eff.Daemon.StateDir, "daemon.control_socket": path.Dir(eff.Daemon.ControlSocket)}
	for _, s := range eff.Stores {
		dirs["store "+s.Name+" quarantine_dir"] = s.QuarantineDir
		if s.Archive != nil {
			dirs["store "+s.Name+" archive.dir"] = s.Archive.Dir
		}
		if s.Path == "" {
			continue
		}
		dirs["store "+s.Name] = path.Dir(s.Path)
		vm := mountOf(c, s.Path)
		if vm == nil {
			continue
		}
		if v := volume(t, p.spec, vm.Name); v.PersistentVolumeClaim == nil {
			t.Errorf("%s: store %s (%s) is on volume %s, not the application's claim", p.name, s.Name, s.Path, vm.Name)
		}
	}
	for what, dir := range dirs {
		vm := mountOf(c, dir)
		switch {
		case vm == nil:
			t.Errorf("%s: %s %s is on the read-only root file system", p.name, what, dir)
		case vm.ReadOnly:
			t.Errorf("%s: %s %s is on read-only mount %s", p.name, what, dir, vm.MountPath)
		case vm.MountPath == dir && volume(t, p.spec, vm.Name).EmptyDir != nil && what == "daemon.state_dir":
			t.Errorf("%s: %s is an emptyDir's own directory, which anyone may write and papyrad refuses; use a subdirectory", p.name, what)
		}
	}
}

// checkSecurity: papyrad runs as the pod's user with exactly the capabilities it can use.
func checkSecurity(t *testing.T, p papyradPod, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatalf("%s: no capabilities", p.name)
	}
	if got := fmt.Sprint(sc.Capabilities.Drop); got != "[ALL]" {
		t.Errorf("%s: drops %s, want [ALL]", p.name, got)
	}
	if got := fmt.Sprint(sc.Capabilities.Add); got != "[CHOWN FOWNER LEASE]" {
		t.Errorf("%s: adds %s, want [CHOWN FOWNER LEASE]", p.name, got)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: privilege escalation allowed", p.name)
	}
	if sc.RunAsUser != nil || sc.RunAsGroup != nil || sc.Privileged != nil {
		t.Errorf("%s: papyrad's container overrides the pod's user or privilege", p.name)
	}
	ps := p.spec.SecurityContext
	if ps == nil || ps.RunAsUser == nil || ps.RunAsGroup == nil || ps.FSGroup == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || *ps.RunAsUser == 0 {
		t.Errorf("%s: the pod sets no non-root runAsUser, runAsGroup and fsGroup: %+v", p.name, ps)
	}
	if p.spec.ShareProcessNamespace != nil && *p.spec.ShareProcessNamespace {
		t.Errorf("%s: shares the process namespace, which papyrad does not need", p.name)
	}
	if p.spec.TerminationGracePeriodSeconds == nil {
		t.Errorf("%s: no terminationGracePeriodSeconds", p.name)
	}
}

// checkSidecar: the sidecar shares the application's volume, user and group; its probes and
// the PodMonitor reach the listener of daemon.metrics_listen, and the pod waits for its stop.
func checkSidecar(t *testing.T, m manifests, eff effectiveConfig) {
	t.Helper()
	spec := &m.deployment.Spec.Template.Spec
	c := container(t, spec, "papyrad")
	if len(spec.Containers) != 2 {
		t.Fatalf("the Deployment has %d containers, want the application and papyrad", len(spec.Containers))
	}
	app := &spec.Containers[0]
	if app.Name == "papyrad" {
		app = &spec.Containers[1]
	}
	for _, s := range eff.Stores {
		if s.Path == "" {
			continue
		}
		pv, av := mountOf(c, s.Path), mountOf(app, s.Path)
		if pv == nil || av == nil || pv.Name != av.Name || pv.MountPath != av.MountPath || av.ReadOnly {
			t.Errorf("store %s (%s): papyrad's mount %+v and the application's %+v differ", s.Name, s.Path, pv, av)
		}
		if v := volume(t, spec, pv.Name); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.pvc.Name {
			t.Errorf("store %s: volume %s is not claim %s", s.Name, pv.Name, m.pvc.Name)
		}
	}
	if sc := app.SecurityContext; sc != nil && (sc.RunAsUser != nil || sc.RunAsGroup != nil) {
		t.Errorf("the application's container runs as another user than papyrad: %+v", sc)
	}

	host, port, err := net.SplitHostPort(eff.Daemon.MetricsListen)
	if err != nil || host != "0.0.0.0" {
		t.Fatalf("daemon.metrics_listen %q: want 0.0.0.0:PORT, reachable from the kubelet and Prometheus", eff.Daemon.MetricsListen)
	}
	var metricsPort *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			metricsPort = &c.Ports[i]
		}
	}
	if metricsPort == nil || strconv.Itoa(int(metricsPort.ContainerPort)) != port {
		t.Fatalf("papyrad's port \"metrics\" %+v is not daemon.metrics_listen's %s", metricsPort, port)
	}
	for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" ||
			(pr.HTTPGet.Port.String() != "metrics" && pr.HTTPGet.Port.String() != port) {
			t.Errorf("%s probe: want GET /healthz on port metrics: %+v", what, pr)
		}
	}

	sel, err := metav1.LabelSelectorAsSelector(&m.podMonitor.Spec.Selector)
	if err != nil || sel.Empty() {
		t.Fatalf("the PodMonitor's selector %v: %v (an empty one selects every pod)", sel, err)
	}
	if !sel.Matches(labels.Set(m.deployment.Spec.Template.Labels)) {
		t.Errorf("the PodMonitor's selector %v does not select the Deployment's pods %v", sel, m.deployment.Spec.Template.Labels)
	}
	cronLabels := labels.Set(m.cronJob.Spec.JobTemplate.Spec.Template.Labels)
	if sel.Matches(cronLabels) {
		t.Errorf("the PodMonitor's selector %v selects the CronJob's pods, which serve no metrics", sel)
	}
	if len(m.podMonitor.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("PodMonitor: %d endpoints", len(m.podMonitor.Spec.PodMetricsEndpoints))
	}
	ep := m.podMonitor.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil || *ep.Port != "metrics" || (ep.Path != "" && ep.Path != "/metrics") {
		t.Errorf("PodMonitor endpoint %+v: want port metrics, path /metrics", ep)
	}

	// The pod waits for papyrad's graceful stop.
	d, err := time.ParseDuration(eff.Daemon.ShutdownTimeout)
	if err != nil {
		t.Fatalf("daemon.shutdown_timeout %q: %v", eff.Daemon.ShutdownTimeout, err)
	}
	if g := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second; g <= d {
		t.Errorf("terminationGracePeriodSeconds %v is not above daemon.shutdown_timeout %v", g, d)
	}
	if m.deployment.Spec.Replicas == nil || *m.deployment.Spec.Replicas != 1 || m.deployment.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("the Deployment must run one pod at a time (a store has one writer): replicas %v, strategy %s",
			m.deployment.Spec.Replicas, m.deployment.Spec.Strategy.Type)
	}
}

// checkCronJob: one run at a time, and the exit codes no retry mends end the Job.
func checkCronJob(t *testing.T, cj *batchv1.CronJob) {
	t.Helper()
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %s, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	js := cj.Spec.JobTemplate.Spec
	if js.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s, want Never", js.Template.Spec.RestartPolicy)
	}
	var fail []int32
	if js.PodFailurePolicy != nil {
		for _, r := range js.PodFailurePolicy.Rules {
			if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil &&
				r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn {
				fail = append(fail, r.OnExitCodes.Values...)
			}
		}
	}
	slices.Sort(fail)
	if fmt.Sprint(fail) != "[64 78]" {
		t.Errorf("the Job fails at once on exit codes %v, want [64 78] (usage, invalid config; 75 means try later)", fail)
	}
}
