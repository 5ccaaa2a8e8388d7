package spec

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// engineConfigs are configs as engines write them: kan spec's, rootless
// and not; one with Docker's default seccomp profile, hooks and the
// resources Docker sets; one with what the CRI sets (annotations, a pod's
// cgroup, cpu and memory, hugepages, unified, id mappings). Each as
// json.Marshal writes it and as an engine indents it.
func engineConfigs(t testing.TB) map[string][]byte {
	docker := Default(false, 0, 0)
	profile, err := os.ReadFile("../tests/integration/testdata/seccomp-docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var sc specs.LinuxSeccomp
	if err := json.Unmarshal(profile, &sc); err != nil {
		t.Fatal(err)
	}
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	yes, timeout, oom, umask := true, 5, -999, uint32(0o22)
	docker.Linux.Seccomp = &sc
	docker.Process.ApparmorProfile = "docker-default"
	docker.Process.OOMScoreAdj = &oom
	docker.Process.User.AdditionalGids = []uint32{0, 1, 2}
	docker.Process.User.Umask = &umask
	docker.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	docker.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{{Path: "/usr/bin/dockerd", Args: []string{"libnetwork-setkey", "-exec-root=/var/run/docker", "abc"}}},
		CreateRuntime:   []specs.Hook{{Path: "/bin/x", Env: []string{"A=1"}, Timeout: &timeout}},
		CreateContainer: []specs.Hook{},
		Poststop:        []specs.Hook{{Path: "/bin/y"}},
	}
	docker.Linux.Resources = &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"}, {Allow: true, Type: "c", Major: i64(136), Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(2 << 30), Swappiness: u64(60), DisableOOMKiller: &yes},
		CPU:     &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Cpus: "0-1", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: i64(-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(500)},
	}
	docker.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}
	docker.Linux.CgroupsPath = "system.slice:docker:abc"
	docker.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}

	cri := Default(false, 0, 0)
	cri.Annotations = map[string]string{
		"io.kubernetes.cri.container-type": "container",
		"io.kubernetes.cri.sandbox-id":     "0123456789abcdef",
		"io.kubernetes.cri.image-name":     "registry.k8s.io/pause:3.9",
		"unicode":                          "ünïcødé ✓",
	}
	cri.Linux.CgroupsPath = "/kubepods/burstable/pod1/abc"
	cri.Linux.Resources = &specs.LinuxResources{
		Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:         &specs.LinuxMemory{Limit: i64(64 << 20)},
		CPU:            &specs.LinuxCPU{Shares: u64(2), Period: u64(100000), Quota: i64(-1)},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 0}},
		Unified:        map[string]string{"memory.high": "max"},
	}
	cri.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	cri.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	cri.Mounts = append(cri.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}})
	cri.Process.Rlimits = append(cri.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE", Hard: 1<<64 - 1, Soft: 0})
	cri.Process.Terminal = true
	cri.Process.Capabilities.Ambient = []string{}
	cri.Linux.Namespaces = append(cri.Linux.Namespaces, specs.LinuxNamespace{Type: "network", Path: "/var/run/netns/cni-1"})

	out := map[string][]byte{}
	for name, s := range map[string]*specs.Spec{
		"default": Default(false, 0, 0), "rootless": Default(true, 1000, 1000), "docker": docker, "cri": cri,
	} {
		compact, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		indented, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		out[name], out[name+" indented"] = compact, append(indented, '\n')
	}
	return out
}

// TestDecodeFastTakesEngineConfigs: the configs engines write are decoded
// without encoding/json, to exactly what encoding/json gives.
func TestDecodeFastTakesEngineConfigs(t *testing.T) {
	for name, data := range engineConfigs(t) {
		var fast, ref document
		if !decodeFast(data, &fast) {
			t.Errorf("%s: left to encoding/json", name)
			continue
		}
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Errorf("%s: decoded\n%+v\nencoding/json\n%+v", name, fast, ref)
		}
	}
}

// TestDecodeFastLeavesTheRest: what the fast decoder does not handle
// exactly as encoding/json does, it leaves to it; Decode's result is
// then Parse's (or its error).
func TestDecodeFastLeavesTheRest(t *testing.T) {
	for _, in := range []string{
		`{"OCIVersion": "1.0.0"}`,                               // a field matched regardless of case
		`{"ociVersion": "1.0.\u0030"}`,                          // an escape
		`{"hostname": "a", "hostname": "b"}`,                    // a key given twice
		`{"process": {"user": {"uid": 1}, "user": {"gid": 2}}}`, // which merges
		`{"process": {"oomScoreAdj": 1.0}}`,                     // a fraction
		`{"process": {"oomScoreAdj": 1e3}}`,                     // an exponent
		`{"process": {"user": {"uid": 4294967296}}}`,            // out of range
		`{"process": {"user": {"uid": -1}}}`,
		`{"process": {"args": ["sh", null]}}`, // a null element
		`{"process": {"args": "sh"}}`,         // a type error
		`{"process": {"scheduler": {"policy": "SCHED_OTHER"}}}`,
		`{"linux": {"resources": {"network": {"classID": 1}}}}`,
		`{"linux": {"intelRdt": {}}}`,
		`{"windows": {"layerFolders": []}}`,
		`{"annotations": {"a": null}}`,
		`{"unknown": 1}`,
		`{"ociVersion": "1.0.0"} {}`, // data after the object
		`{"ociVersion": "1.0.0",}`,   // a syntax error
		`{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",}}}`,
		`{"linux": {"seccomp": {"a": "\x"}}}`,
		`{"linux": {"seccomp": {"a": 01}}}`,
		`{"linux": {"seccomp": {"a": -}}}`,
		`{"linux": {"seccomp": {"a": -.5}}}`,
		"{\"hostname\": \"\xff\"}", // invalid UTF-8
		"\ufeff{}",                 // a byte order mark
		`null`, `[]`, `"x"`,
	} {
		var d document
		if decodeFast([]byte(in), &d) {
			t.Errorf("%s: decoded without encoding/json: %+v", in, d)
		}
		c, err := Decode("config.json", []byte(in))
		s, perr := Parse("config.json", []byte(in))
		if (err == nil) != (perr == nil) || err != nil && err.Error() != perr.Error() {
			t.Errorf("%s: Decode says %v, Parse %v", in, err, perr)
		}
		if err == nil {
			s.Linux = c.Spec.Linux // Parse decodes the seccomp Decode keeps
			if !reflect.DeepEqual(c.Spec, s) {
				t.Errorf("%s: Decode %+v, Parse %+v", in, c.Spec, s)
			}
		}
	}
}

// FuzzDecodeFast: whatever the fast decoder takes, encoding/json takes
// too, and decodes to the same.
func FuzzDecodeFast(f *testing.F) {
	for _, data := range engineConfigs(f) {
		f.Add(data)
	}
	for _, seed := range []string{
		`{}`, `{"process": null, "linux": {"resources": null, "seccomp": null}}`,
		`{"process": {"user": null, "args": [], "consoleSize": {"height": 18446744073709551615}}}`,
		`{"linux": {"seccomp": {"a": [1.5e-3, -0, "\u00e9\n", true, false, null, {}, []]}}}`,
		`{"linux": {"resources": {"memory": {"limit": -9223372036854775808, "disableOOMKiller": null}}}}`,
		`{"mounts": [{"options": []}, {}], "hooks": {"poststop": null}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast document
		if !decodeFast(data, &fast) {
			return
		}
		var ref document
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("decoded %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%q: decoded\n%+v\nencoding/json\n%+v", data, fast, ref)
		}
		if strings.TrimSpace(string(data)) == "" {
			t.Fatal("decoded nothing")
		}
	})
}
