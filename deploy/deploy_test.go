package deploy

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envVar is one variable cmd/refrecon/config.go declares.
type envVar struct {
	Name, Default string
	HasDefault    bool
}

// configVars parses the env tags of the config struct in
// cmd/refrecon/config.go.
func configVars(t *testing.T) map[string]envVar {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../cmd/refrecon/config.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]envVar{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "config" {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			t.Fatal("config is not a struct")
		}
		for _, field := range st.Fields.List {
			if field.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatal(err)
			}
			env, ok := reflect.StructTag(tag).Lookup("env")
			if !ok {
				continue
			}
			name, opts, _ := strings.Cut(env, ",")
			v := envVar{Name: strings.TrimSpace(name)}
			// default= is the last option and may itself hold commas.
			if _, d, ok := strings.Cut(opts, "default="); ok {
				v.Default, v.HasDefault = d, true
			}
			vars[v.Name] = v
		}
		return false
	})
	if len(vars) < 20 {
		t.Fatalf("found %d env tags in config.go; parsing went wrong", len(vars))
	}
	return vars
}

// secrets must come from secret stores, never from files in the repository.
var secrets = []string{"STRIPE_SECRET_KEY", "D1_API_TOKEN"}

// runtimeVars are read by the Go runtime or a cloud SDK (the credentials of
// PUBLIC_DIR=s3://...), not by config.go.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true}

// isBucketURL reports whether PUBLIC_DIR names a bucket (no mount needed).
func isBucketURL(s string) bool {
	return strings.HasPrefix(s, "gs://") || strings.HasPrefix(s, "s3://")
}

// load reads the file at path and parses it, failing the test with the
// path when either goes wrong.
func load[T any](t *testing.T, path string, parse func(string) (T, error)) T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parse(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func loadYAML(t *testing.T, path string) []any {
	t.Helper()
	return load(t, path, parseYAML)
}

// loadOneYAML loads a file that must hold exactly one YAML document.
func loadOneYAML(t *testing.T, path string) any {
	t.Helper()
	docs := loadYAML(t, path)
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	return docs[0]
}

func want(t *testing.T, doc any, value string, path ...any) {
	t.Helper()
	got, err := get(doc, path...)
	if err != nil {
		t.Errorf("%v: %v", path, err)
		return
	}
	if got != value {
		t.Errorf("%v = %v, want %q", path, got, value)
	}
}

func mustGet(t *testing.T, doc any, path ...any) any {
	t.Helper()
	v, err := get(doc, path...)
	if err != nil {
		t.Fatalf("%v: %v", path, err)
	}
	return v
}

func seconds(t *testing.T, v any) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		t.Fatalf("%v: not a number of seconds", v)
	}
	return time.Duration(n) * time.Second
}

func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkEnv checks a container's env list: names are refrecon's (or the Go
// runtime's), the secrets come from secretKeyRef, nothing else is secret.
// It returns the plain values.
func checkEnv(t *testing.T, vars map[string]envVar, env any) map[string]string {
	t.Helper()
	list, ok := env.([]any)
	if !ok {
		t.Fatalf("env is %T, want a list", env)
	}
	values := map[string]string{}
	fromSecret := map[string]bool{}
	for _, e := range list {
		name := fmt.Sprint(mustGet(t, e, "name"))
		if _, ok := vars[name]; !ok && !runtimeVars[name] {
			t.Errorf("env %s: not a variable refrecon reads", name)
		}
		if ref, err := get(e, "valueFrom", "secretKeyRef"); err == nil {
			fromSecret[name] = true
			if _, err := get(ref, "name"); err != nil {
				t.Errorf("env %s: secretKeyRef without name", name)
			}
			if _, err := get(ref, "key"); err != nil {
				t.Errorf("env %s: secretKeyRef without key", name)
			}
			continue
		}
		values[name] = fmt.Sprint(mustGet(t, e, "value"))
	}
	for _, s := range secrets {
		if !fromSecret[s] {
			t.Errorf("%s does not come from a secretKeyRef", s)
		}
	}
	return values
}

func TestKubernetesCronJob(t *testing.T) {
	vars := configVars(t)
	cj := loadOneYAML(t, "k8s/cronjob.yaml")
	want(t, cj, "batch/v1", "apiVersion")
	want(t, cj, "CronJob", "kind")
	want(t, cj, "0 4 * * *", "spec", "schedule")
	want(t, cj, "Etc/UTC", "spec", "timeZone")
	want(t, cj, "Forbid", "spec", "concurrencyPolicy")
	seconds(t, mustGet(t, cj, "spec", "startingDeadlineSeconds"))
	job := mustGet(t, cj, "spec", "jobTemplate", "spec")
	seconds(t, mustGet(t, job, "backoffLimit"))
	deadline := seconds(t, mustGet(t, job, "activeDeadlineSeconds"))
	pod := mustGet(t, job, "template", "spec")
	want(t, pod, "Never", "restartPolicy")
	want(t, pod, "true", "securityContext", "runAsNonRoot")
	if uid := fmt.Sprint(mustGet(t, pod, "securityContext", "runAsUser")); uid == "0" {
		t.Error("runAsUser 0")
	}
	containers := mustGet(t, pod, "containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0]
	want(t, c, "run", "args", 0)
	want(t, c, "true", "securityContext", "readOnlyRootFilesystem")
	want(t, c, "false", "securityContext", "allowPrivilegeEscalation")
	want(t, c, "4Gi", "resources", "limits", "memory")
	mustGet(t, c, "resources", "requests", "memory")
	mustGet(t, c, "resources", "requests", "cpu")
	want(t, c, "refrecon", "envFrom", 0, "configMapRef", "name")
	checkEnv(t, vars, mustGet(t, c, "env"))

	// The ConfigMap it reads.
	cms := loadYAML(t, "k8s/configmap.yaml")
	want(t, cms[0], "ConfigMap", "kind")
	want(t, cms[0], "refrecon", "metadata", "name")
	data := mustGet(t, cms[0], "data").(map[string]any)
	for k := range data {
		if _, ok := vars[k]; !ok {
			t.Errorf("configmap key %s: not a variable refrecon reads", k)
		}
		for _, s := range secrets {
			if k == s {
				t.Errorf("configmap holds the secret %s", k)
			}
		}
	}
	runTimeout := vars["RUN_TIMEOUT"].Default
	if v, ok := data["RUN_TIMEOUT"]; ok {
		runTimeout = v.(string)
	}
	if deadline <= duration(t, runTimeout) {
		t.Errorf("activeDeadlineSeconds %s <= RUN_TIMEOUT %s: Kubernetes would kill a run before its own timeout", deadline, runTimeout)
	}

	// Every mounted volume exists; PUBLIC_DIR and PRIVATE_DIR are mounted.
	mounts := map[string]string{}
	for _, m := range mustGet(t, c, "volumeMounts").([]any) {
		mounts[fmt.Sprint(mustGet(t, m, "mountPath"))] = fmt.Sprint(mustGet(t, m, "name"))
	}
	volumes := map[string]bool{}
	for _, v := range mustGet(t, pod, "volumes").([]any) {
		volumes[fmt.Sprint(mustGet(t, v, "name"))] = true
	}
	if p, _ := data["PUBLIC_DIR"].(string); !isBucketURL(p) {
		t.Errorf("PUBLIC_DIR %q: want the public bucket's URL (issue #16)", p)
	}
	for _, dir := range []string{"PRIVATE_DIR"} {
		path, _ := data[dir].(string)
		if name, ok := mounts[path]; !ok || !volumes[name] {
			t.Errorf("%s %q is not a mounted volume (read-only root filesystem)", dir, path)
		}
	}

	pvcs := loadYAML(t, "k8s/pvc.yaml")
	claims := map[string]bool{}
	for _, d := range pvcs {
		want(t, d, "PersistentVolumeClaim", "kind")
		claims[fmt.Sprint(mustGet(t, d, "metadata", "name"))] = true
	}
	for _, v := range mustGet(t, pod, "volumes").([]any) {
		if claim, err := get(v, "persistentVolumeClaim", "claimName"); err == nil && !claims[claim.(string)] {
			t.Errorf("volume claim %v not in pvc.yaml", claim)
		}
	}
}

func TestCloudRunJob(t *testing.T) {
	vars := configVars(t)
	job := loadOneYAML(t, "cloudrun/job.yaml")
	want(t, job, "run.googleapis.com/v1", "apiVersion")
	want(t, job, "Job", "kind")
	exec := mustGet(t, job, "spec", "template", "spec")
	want(t, exec, "1", "taskCount")
	want(t, exec, "1", "parallelism")
	task := mustGet(t, exec, "template", "spec")
	seconds(t, mustGet(t, task, "maxRetries"))
	timeout := seconds(t, mustGet(t, task, "timeoutSeconds"))
	c := mustGet(t, task, "containers", 0)
	want(t, c, "run", "args", 0)
	want(t, c, "4Gi", "resources", "limits", "memory")
	values := checkEnv(t, vars, mustGet(t, c, "env"))
	runTimeout := vars["RUN_TIMEOUT"].Default
	if v, ok := values["RUN_TIMEOUT"]; ok {
		runTimeout = v
	}
	if timeout <= duration(t, runTimeout) {
		t.Errorf("timeoutSeconds %s <= RUN_TIMEOUT %s", timeout, runTimeout)
	}
	mounts := map[string]bool{}
	for _, m := range mustGet(t, c, "volumeMounts").([]any) {
		mounts[fmt.Sprint(mustGet(t, m, "mountPath"))] = true
	}
	if !isBucketURL(values["PUBLIC_DIR"]) {
		t.Errorf("PUBLIC_DIR %q: want the public bucket's URL (issue #16)", values["PUBLIC_DIR"])
	}
	for _, dir := range []string{"PRIVATE_DIR"} {
		if !mounts[values[dir]] {
			t.Errorf("%s %q is not a mounted volume: Cloud Run's disk is memory and lost after the run", dir, values[dir])
		}
	}
}

// unit is a parsed systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

// parseUnit parses systemd's INI dialect: [Section], Key=Value, comments
// starting with # or ;, backslash continuations. Keys may repeat.
func parseUnit(src string) (unit, error) {
	u := unit{}
	var section string
	sc := bufio.NewScanner(strings.NewReader(src))
	n := 0
	var pending string
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: bad section header %q", n, line)
			}
			section = line[1 : len(line)-1]
			if _, dup := u[section]; dup {
				return nil, fmt.Errorf("line %d: section %s twice", n, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: setting outside a section", n)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") {
			return nil, fmt.Errorf("line %d: want Key=Value: %q", n, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if pending != "" {
		return nil, fmt.Errorf("continuation at end of file")
	}
	return u, sc.Err()
}

func loadUnit(t *testing.T, path string) unit {
	t.Helper()
	return load(t, path, parseUnit)
}

func (u unit) want(t *testing.T, section, key, value string) {
	t.Helper()
	vs := u[section][key]
	if len(vs) == 0 || vs[len(vs)-1] != value {
		t.Errorf("[%s] %s = %q, want %q", section, key, vs, value)
	}
}

func (u unit) get(t *testing.T, section, key string) string {
	t.Helper()
	vs := u[section][key]
	if len(vs) == 0 {
		t.Fatalf("[%s] %s missing", section, key)
	}
	return vs[len(vs)-1]
}

// systemdSpan parses the time spans used here: 30s, 6min, 90min, 1h.
func systemdSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.ReplaceAll(s, "min", "m"))
	if err != nil {
		t.Fatalf("time span %q: %v", s, err)
	}
	return d
}

// hardened checks the sandboxing both services share.
func hardened(t *testing.T, u unit) {
	t.Helper()
	u.want(t, "Service", "User", "refrecon")
	u.want(t, "Service", "EnvironmentFile", "/etc/refrecon/env")
	u.want(t, "Service", "NoNewPrivileges", "yes")
	u.want(t, "Service", "ProtectSystem", "strict")
	u.want(t, "Service", "PrivateTmp", "yes")
	u.want(t, "Service", "CapabilityBoundingSet", "")
	rw := strings.Fields(u.get(t, "Service", "ReadWritePaths"))
	for _, p := range []string{"/var/lib/refrecon", "/srv/refrecon/public"} {
		if !contains(rw, p) {
			t.Errorf("ReadWritePaths %v lacks %s", rw, p)
		}
	}
}

func TestSystemdUnits(t *testing.T) {
	vars := configVars(t)
	svc := loadUnit(t, "systemd/refrecon.service")
	svc.want(t, "Service", "Type", "oneshot")
	svc.want(t, "Service", "ExecStart", "/usr/local/bin/refrecon run")
	hardened(t, svc)
	if d := systemdSpan(t, svc.get(t, "Service", "TimeoutStartSec")); d <= duration(t, vars["RUN_TIMEOUT"].Default) {
		t.Errorf("TimeoutStartSec %s <= RUN_TIMEOUT %s", d, vars["RUN_TIMEOUT"].Default)
	}

	timer := loadUnit(t, "systemd/refrecon.timer")
	timer.want(t, "Timer", "OnCalendar", "*-*-* 04:00:00 UTC")
	timer.want(t, "Timer", "Persistent", "true")
	timer.want(t, "Timer", "Unit", "refrecon.service")
	timer.want(t, "Install", "WantedBy", "timers.target")

	sched := loadUnit(t, "systemd/refrecon-scheduler.service")
	sched.want(t, "Service", "Type", "simple")
	sched.want(t, "Service", "ExecStart", "/usr/local/bin/refrecon schedule")
	sched.want(t, "Service", "Restart", "on-failure")
	sched.want(t, "Service", "KillSignal", "SIGTERM")
	sched.want(t, "Unit", "Conflicts", "refrecon.timer")
	hardened(t, sched)
	// refrecon waits SHUTDOWN_GRACE, then cancels the run and waits up to
	// stopWait more (cmd/refrecon/schedule.go).
	src, err := os.ReadFile("../cmd/refrecon/schedule.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`stopWait\s*=\s*(\d+)\s*\*\s*time\.Second`).FindSubmatch(src)
	if m == nil {
		t.Fatal("stopWait not found in cmd/refrecon/schedule.go")
	}
	n, _ := strconv.Atoi(string(m[1]))
	need := duration(t, vars["SHUTDOWN_GRACE"].Default) + time.Duration(n)*time.Second
	if d := systemdSpan(t, sched.get(t, "Service", "TimeoutStopSec")); d <= need {
		t.Errorf("TimeoutStopSec %s <= SHUTDOWN_GRACE + stopWait = %s: systemd would SIGKILL a stopping run", d, need)
	}
}

func TestUnitParserRejects(t *testing.T) {
	for _, bad := range []string{"Type=oneshot\n", "[Service]\nno equals\n", "[Service\nA=b\n", "[A]\n[A]\n", "[A]\nB=c \\\n"} {
		if _, err := parseUnit(bad); err == nil {
			t.Errorf("parsed %q without error", bad)
		}
	}
	u, err := parseUnit("[S]\n# c\nA=1\nA=2 \\\n  3\n")
	if err != nil || !reflect.DeepEqual(u["S"]["A"], []string{"1", "2  3"}) {
		t.Errorf("got %v, %v", u, err)
	}
}

func TestEnvExampleListsEveryVariable(t *testing.T) {
	vars := configVars(t)
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	prevComment := false
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			prevComment = false
			continue
		}
		if strings.HasPrefix(line, "#") {
			prevComment = true
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("line %d: want KEY=value: %q", n, line)
			continue
		}
		if seen[k] {
			t.Errorf("line %d: %s twice", n, k)
		}
		seen[k] = true
		if !prevComment {
			t.Errorf("line %d: %s has no comment saying what it is", n, k)
		}
		cv, ok := vars[k]
		if !ok {
			t.Errorf("line %d: %s is not declared in cmd/refrecon/config.go", n, k)
			continue
		}
		if v != cv.Default {
			t.Errorf("line %d: %s=%q, want its default %q", n, k, v, cv.Default)
		}
		if strings.ContainsAny(v, "\"'") {
			t.Errorf("line %d: %s: no quotes (systemd and docker read them differently)", n, k)
		}
	}
	var missing []string
	for k := range vars {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf(".env.example lacks %v (declared in cmd/refrecon/config.go)", missing)
	}
	for _, s := range secrets {
		if vars[s].HasDefault {
			t.Errorf("secret %s has a default in config.go", s)
		}
	}
}

// shellWords splits a command line on spaces, honouring single and double
// quotes (no escapes: the build lines use none).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// makeBuildLine expands the Makefile's build recipe, with $(VERSION) left
// as the placeholder VERSION.
func makeBuildLine(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"GO": "go", "VERSION": "VERSION"}
	assign := regexp.MustCompile(`^([A-Z_]+)\s*(?:\?=|:=|=)\s*(.*)$`)
	var recipe string
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if m := assign.FindStringSubmatch(l); m != nil {
			if _, fixed := vars[m[1]]; !fixed {
				vars[m[1]] = m[2]
			}
		}
		if l == "build:" && i+1 < len(lines) {
			recipe = strings.TrimPrefix(lines[i+1], "\t")
		}
	}
	if recipe == "" {
		t.Fatal("no build: recipe in the Makefile")
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for range 5 { // nested references
		recipe = ref.ReplaceAllStringFunc(recipe, func(s string) string { return vars[s[2:len(s)-1]] })
	}
	if ref.MatchString(recipe) {
		t.Fatalf("unexpanded make variable in %q", recipe)
	}
	return shellWords(recipe)
}

// withoutOutput drops "-o PATH": the one flag that differs.
func withoutOutput(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		if words[i] == "-o" {
			i++
			continue
		}
		out = append(out, words[i])
	}
	return out
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, users, runs []string
	var entrypoint, cmd string
	for _, l := range strings.Split(string(b), "\n") {
		word, rest, _ := strings.Cut(strings.TrimSpace(l), " ")
		switch word {
		case "FROM":
			froms = append(froms, rest)
		case "USER":
			users = append(users, rest)
		case "RUN":
			runs = append(runs, rest)
		case "ENTRYPOINT":
			entrypoint = rest
		case "CMD":
			cmd = rest
		}
	}
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("no go directive in go.mod")
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:"+string(m[1])+" ") {
		t.Errorf("FROM %q: want a golang:%s builder and one final stage", froms, m[1])
	}
	if len(froms) > 0 {
		final := froms[len(froms)-1]
		if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
			t.Errorf("final stage %q: want distroless static or scratch", final)
		}
	}
	if len(users) == 0 {
		t.Error("no USER: the image would run as root")
	}
	for _, u := range users {
		if name, _, _ := strings.Cut(u, ":"); name == "root" || name == "0" {
			t.Errorf("USER %s", u)
		}
	}
	if entrypoint != `["/refrecon"]` || cmd != `["run"]` {
		t.Errorf("ENTRYPOINT %s CMD %s, want [\"/refrecon\"] [\"run\"]", entrypoint, cmd)
	}

	var build []string
	for _, r := range runs {
		if strings.Contains(r, "go build") {
			build = shellWords(strings.NewReplacer("${VERSION}", "VERSION", "$VERSION", "VERSION").Replace(r))
		}
	}
	if build == nil {
		t.Fatal("no go build line in the Dockerfile")
	}
	if got, want := withoutOutput(build), withoutOutput(makeBuildLine(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("Dockerfile builds with\n  %q\nMakefile's build recipe is\n  %q", got, want)
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`CGO_ENABLED=0 go build -ldflags '-s -w' -ldflags "-X a=b"  x`)
	want := []string{"CGO_ENABLED=0", "go", "build", "-ldflags", "-s -w", "-ldflags", "-X a=b", "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
