package spec

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzParse checks that Parse never panics on any input, and that Validate
// does not panic on anything Parse accepts: Validate runs on configs from
// users, so odd but well-typed values (nil sections, empty lists, huge
// numbers) must give errors, not crashes.
func FuzzParse(f *testing.F) {
	for _, rootless := range []bool{false, true} {
		data, err := json.Marshal(Default(rootless, 1000, 1000))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		``,
		`null`,
		`{}`,
		`[]`,
		`{"ociVersion": "1.0.0"} trailing`,
		`{"ociVersion": 1}`,
		`{"process": {"user": {"uid": "x"}}}`,
		`{"process": null, "linux": null, "root": null}`,
		`{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"namespaces": [{"type": "user"}]}}`,
		`{"ociVersion": "1.0.0", "root": {"path": "r"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {"uidMappings": [{"containerID": 4294967295, "hostID": 4294967295, "size": 4294967295}]}}`,
		`{"linux": {"devices": [{"path": "/dev/x", "type": "c", "fileMode": 4294967295}]}}`,
		`{"hooks": {"poststop": [{"path": "/x", "timeout": 0}]}}`,
		"{\n\t\"ociVersion\": \"1.0.0\",\n}",
		`{"mounts": [{"destination": "../..", "options": [""]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("config.json", data)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a config and the error %v", err)
			}
			return
		}
		if s == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		_ = Validate(s)
	})
}

// FuzzValidate fills the fields of a valid config that name paths, ids
// and keys with fuzzed values. Validate must never panic, and whatever it
// accepts must keep the promises the rest of kan relies on: mount
// destinations and sysctl keys do not climb out with "..", device nodes
// stay under /dev, the cgroup path stays in its hierarchy, the cwd and
// hook paths are absolute, namespace types are known and unique.
func FuzzValidate(f *testing.F) {
	f.Add("/tmp", "/dev/x", "net.ipv4.ip_forward", "/kan/c1", "/", "/bin/true", "network", "", uint32(0), uint32(1), uint32(3))
	f.Add("/../../etc", "/dev/../etc/passwd", "../../x", "/kan/../../x", "tmp", "bin/true", "bogus", "proc/1/ns/net", uint32(4294967295), uint32(0), uint32(99999))
	f.Add("", "dev/x", "", "a:b:c", "/proc/self/fd/7", "", "pid", "/proc/1/ns/pid", uint32(65534), uint32(5), uint32(1<<20))
	f.Add("/a/./b/../../..", "/dev//./x", "kernel..panic", "//kan//x", "/x/../..", "/x\x00y", "user", "/x", uint32(1), uint32(136), uint32(0))
	f.Fuzz(func(t *testing.T, mountDest, devPath, sysctlKey, cgroupsPath, cwd, hookPath, nsType, nsPath string, uid, major, minor uint32) {
		s := Default(false, 0, 0)
		s.Root.Path = "rootfs"
		s.Process.Terminal = false
		s.Process.User.UID = uid
		s.Process.Cwd = cwd
		s.Mounts = append(s.Mounts, specs.Mount{Destination: mountDest, Type: "tmpfs", Source: "tmpfs"})
		s.Linux.Devices = []specs.LinuxDevice{{Path: devPath, Type: "c", Major: int64(major), Minor: int64(minor)}}
		s.Linux.Sysctl = map[string]string{sysctlKey: "1"}
		s.Linux.CgroupsPath = cgroupsPath
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(nsType), Path: nsPath})
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: hookPath}}}
		if err := Validate(s); err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		climbs := func(p string) bool {
			return strings.HasPrefix(filepath.Clean("/"+p), "/..") || slices.Contains(strings.Split(p, "/"), "..")
		}
		switch {
		case climbs(mountDest):
			t.Fatalf("accepted mount destination %q", mountDest)
		case !strings.HasPrefix(filepath.Clean(devPath), "/dev/"):
			t.Fatalf("accepted device path %q", devPath)
		case slices.Contains(strings.Split(cgroupsPath, "/"), ".."):
			t.Fatalf("accepted cgroupsPath %q", cgroupsPath)
		case climbs(strings.ReplaceAll(sysctlKey, ".", "/")) || strings.Contains(sysctlKey, "/.."):
			t.Fatalf("accepted sysctl key %q", sysctlKey)
		case !filepath.IsAbs(cwd):
			t.Fatalf("accepted relative cwd %q", cwd)
		case !filepath.IsAbs(hookPath):
			t.Fatalf("accepted relative hook path %q", hookPath)
		}
		seen := map[specs.LinuxNamespaceType]bool{}
		for _, ns := range s.Linux.Namespaces {
			if seen[ns.Type] {
				t.Fatalf("accepted duplicate namespace %q", ns.Type)
			}
			seen[ns.Type] = true
		}
	})
}
