package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/coffre/coffre/internal/config"
)

// unit reads a systemd unit's [Service] settings: key → values, in order.
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", path, line)
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestSystemdUnitHardened: the unit runs as a user of its own, with no
// capability, no new privilege, a read-only system, no writable and
// executable memory and the system-service calls only; and
// systemd-analyze, where the machine has it, rates its exposure at most
// 2.0 ("OK") of 10.
func TestSystemdUnitHardened(t *testing.T) {
	const path = "systemd/coffre.service"
	u := unit(t, path)
	for _, want := range []struct{ key, value string }{
		{"DynamicUser", "yes"},
		{"NoNewPrivileges", "yes"},
		{"CapabilityBoundingSet", ""},
		{"AmbientCapabilities", ""},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"MemoryDenyWriteExecute", "yes"},
		{"RestrictSUIDSGID", "yes"},
		{"SystemCallFilter", "@system-service"},
		{"SystemCallArchitectures", "native"},
		{"LimitCORE", "0"},
		{"UMask", "0077"},
	} {
		if !slices.Contains(u[want.key], want.value) {
			t.Errorf("%s: %s=%s missing (has %q)", path, want.key, want.value, u[want.key])
		}
	}
	if got := u["ExecStart"]; len(got) != 1 || !strings.Contains(got[0], "coffre serve --config") {
		t.Errorf("%s: ExecStart %q, want coffre serve --config …", path, got)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("no systemd-analyze here: the exposure is not rated")
		return
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`Overall exposure level for coffre\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level in:\n%s", out)
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 2.0 {
		t.Errorf("systemd-analyze rates the unit's exposure %s, want at most 2.0:\n%s", m[1], out)
	}
}

// stage is one stage of a Dockerfile: its FROM and its instructions.
type stage struct {
	from         string
	instructions [][2]string // instruction (upper case), its arguments
}

// dockerfile reads a Dockerfile's stages (continuation lines joined).
func dockerfile(t *testing.T, path string) []stage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var stages []stage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ins, args, _ := strings.Cut(line, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stages = append(stages, stage{from: strings.Fields(args)[0]})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before FROM", path, ins)
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, [2]string{ins, strings.TrimSpace(args)})
	}
	return stages
}

// TestDockerfileHardened: a multi-stage build whose image holds a static
// binary on a distroless (or empty) base, runs as a numeric non-root user,
// has no shell to run (no RUN, a JSON-form ENTRYPOINT) and keeps its data
// in a volume, so that it runs with a read-only root file system.
func TestDockerfileHardened(t *testing.T) {
	const path = "../Dockerfile"
	stages := dockerfile(t, path)
	if len(stages) < 2 {
		t.Fatalf("%s: %d stages, want a build stage and the image", path, len(stages))
	}
	build, img := stages[0], stages[len(stages)-1]
	if img.from != "scratch" && !strings.HasPrefix(img.from, "gcr.io/distroless/static") {
		t.Errorf("%s: the image is FROM %s, want scratch or distroless/static (no shell, no libc)", path, img.from)
	}
	static := false
	for _, in := range build.instructions {
		if in[0] == "RUN" && strings.Contains(in[1], "CGO_ENABLED=0") && strings.Contains(in[1], "go build") && strings.Contains(in[1], "-trimpath") {
			static = true
		}
	}
	if !static {
		t.Errorf("%s: the build stage has no RUN CGO_ENABLED=0 go build -trimpath (a static, reproducible binary)", path)
	}
	var user, entry string
	volume := false
	for _, in := range img.instructions {
		switch in[0] {
		case "RUN":
			t.Errorf("%s: the image stage runs %q: it has no shell to run it with", path, in[1])
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entry = in[1]
		case "VOLUME":
			volume = strings.Contains(in[1], "/var/lib/coffre")
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("%s: USER %q, want a numeric non-root user", path, user)
	}
	if !strings.HasPrefix(entry, "[") {
		t.Errorf("%s: ENTRYPOINT %q, want the JSON (exec) form: there is no shell", path, entry)
	}
	if !volume {
		t.Errorf("%s: no VOLUME /var/lib/coffre: with a read-only root, the data needs a volume", path)
	}
}

// renderChart renders the chart's templates with its values, as helm
// template does for the few functions the chart uses (include, toYaml,
// nindent, quote, required): helm does not install from Debian here.
func renderChart(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	var values map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	root := template.New("chart")
	root.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"toYaml": func(v any) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"quote": func(v any) string { return strconv.Quote(toString(v)) },
		"required": func(msg string, v any) (any, error) {
			if v == nil || toString(v) == "" {
				return nil, errors.New("required: " + msg)
			}
			return v, nil
		},
	})
	files, _ := filepath.Glob(filepath.Join(dir, "templates", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	data := map[string]any{"Values": values, "Release": map[string]any{"Name": "test"}, "Chart": map[string]any{"Name": "coffre"}}
	out := map[string][]byte{}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := yaml.Marshal(v)
		return strings.TrimSpace(string(b))
	}
}

// TestHelmChart: the chart renders to Kubernetes objects; the deployment
// runs several nodes of the non-root image with a read-only root, no
// privilege and no capability, the store's URL from a Secret (never in the
// values), the sealed keyring from a Secret, and probes that keep a sealed
// node out of the Service; its default coffre.yaml is a configuration
// Coffre accepts.
func TestHelmChart(t *testing.T) {
	docs := renderChart(t, "helm/coffre")
	var dep struct {
		Kind string
		Spec struct {
			Replicas int
			Template struct {
				Spec struct {
					AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
					SecurityContext              struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
						RunAsUser    int  `yaml:"runAsUser"`
					} `yaml:"securityContext"`
					Containers []struct {
						Env []struct {
							Name      string
							Value     string
							ValueFrom *struct {
								SecretKeyRef struct{ Name, Key string } `yaml:"secretKeyRef"`
							} `yaml:"valueFrom"`
						}
						SecurityContext struct {
							ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
							AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
							Capabilities             struct{ Drop []string }
						} `yaml:"securityContext"`
						ReadinessProbe struct {
							HTTPGet struct{ Path string } `yaml:"httpGet"`
						} `yaml:"readinessProbe"`
						VolumeMounts []struct {
							MountPath string `yaml:"mountPath"`
							SubPath   string `yaml:"subPath"`
						} `yaml:"volumeMounts"`
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(docs["deployment.yaml"], &dep); err != nil {
		t.Fatalf("deployment.yaml: %v\n%s", err, docs["deployment.yaml"])
	}
	spec := dep.Spec.Template.Spec
	switch {
	case dep.Kind != "Deployment" || dep.Spec.Replicas < 2:
		t.Errorf("a %s of %d replicas, want a Deployment of several nodes", dep.Kind, dep.Spec.Replicas)
	case !spec.SecurityContext.RunAsNonRoot || spec.SecurityContext.RunAsUser == 0:
		t.Errorf("pod security context %+v, want a non-root user", spec.SecurityContext)
	case spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken:
		t.Error("the pods mount a service account token: Coffre needs none")
	case len(spec.Containers) != 1:
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if sc := c.SecurityContext; !sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container security context %+v, want a read-only root, no escalation, every capability dropped", sc)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %q, want /readyz (503 while sealed)", c.ReadinessProbe.HTTPGet.Path)
	}
	store := false
	for _, e := range c.Env {
		if e.Name == "COFFRE_STORE" {
			store = e.Value == "" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef.Name != ""
		}
	}
	if !store {
		t.Error("COFFRE_STORE does not come from a Secret")
	}
	keyring := slices.ContainsFunc(c.VolumeMounts, func(m struct {
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	}) bool {
		return m.MountPath == "/var/lib/coffre/keyring.sealed"
	})
	if !keyring {
		t.Error("no sealed keyring mounted at /var/lib/coffre/keyring.sealed")
	}
	var cm struct{ Data map[string]string }
	if err := yaml.Unmarshal(docs["configmap.yaml"], &cm); err != nil {
		t.Fatalf("configmap.yaml: %v", err)
	}
	if _, err := config.Parse("coffre.yaml", []byte(cm.Data["coffre.yaml"]), nil); err != nil {
		t.Errorf("the chart's coffre.yaml: %v", err)
	}
	var svc struct {
		Kind string
		Spec struct{ Selector map[string]string }
	}
	if err := yaml.Unmarshal(docs["service.yaml"], &svc); err != nil || svc.Kind != "Service" || len(svc.Spec.Selector) == 0 {
		t.Errorf("service.yaml: %v, %+v", err, svc)
	}
}
