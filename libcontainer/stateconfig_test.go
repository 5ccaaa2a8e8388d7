package libcontainer

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStateConfig: the config a state keeps from the bytes read decodes to
// the same config and resources as encoding the decoded config would give.
func TestStateConfig(t *testing.T) {
	limit := int64(1 << 20)
	for _, c := range []struct {
		name string
		raw  string
	}{
		{"resources", `{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"linux":{"resources":{"memory":{"limit":1048576}}}}`},
		{"no resources", `{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"mount"}]}}`},
		{"null resources", `{"linux":{"resources":null}}`},
		{"linux twice, resources in the first", `{"linux":{"resources":{"memory":{"limit":1048576}}},"linux":{"sysctl":{"a.b":"1"}}}`},
		{"hooks and seccomp", `{"hooks":{"poststop":[{"path":"/bin/true","args":["true","x"]}]},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s specs.Spec
			if err := json.Unmarshal([]byte(c.raw), &s); err != nil {
				t.Fatal(err)
			}
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			fromRawParts, err := stateConfig(CreateOptions{Spec: &s, RawSpec: []byte(c.raw)})
			if err != nil {
				t.Fatal(err)
			}
			encodedParts, _ := stateConfig(CreateOptions{Spec: &s})
			fromRaw, resRaw := fromRawParts.config, fromRawParts.resources
			encoded, resEncoded := encodedParts.config, encodedParts.resources
			a, _ := fromRaw.Get()
			b, _ := encoded.Get()
			ha, _ := fromRawParts.hooks.Get()
			hb, _ := encodedParts.hooks.Get()
			if !reflect.DeepEqual(ha, hb) || !reflect.DeepEqual(ha, s.Hooks) {
				t.Errorf("hooks from the bytes read %+v, encoded %+v, want %+v", ha, hb, s.Hooks)
			}
			var sa, sb specs.LinuxSeccomp
			if (len(fromRawParts.seccomp) > 0) != (s.Linux.Seccomp != nil) || (len(encodedParts.seccomp) > 0) != (s.Linux.Seccomp != nil) {
				t.Errorf("seccomp JSON: from the bytes read %q, encoded %q", fromRawParts.seccomp, encodedParts.seccomp)
			} else if s.Linux.Seccomp != nil {
				json.Unmarshal(fromRawParts.seccomp, &sa)
				json.Unmarshal(encodedParts.seccomp, &sb)
				if !reflect.DeepEqual(sa, sb) {
					t.Errorf("seccomp from the bytes read %+v, encoded %+v", sa, sb)
				}
			}
			if !reflect.DeepEqual(a.Linux.Resources, b.Linux.Resources) || !reflect.DeepEqual(a.Process, b.Process) {
				t.Errorf("config from the bytes read %+v, encoded %+v", a, b)
			}
			ra, _ := resRaw.Get()
			rb, _ := resEncoded.Get()
			if !reflect.DeepEqual(ra, rb) {
				t.Errorf("resources from the bytes read %+v, encoded %+v", ra, rb)
			}
			if s.Linux.Resources != nil && (ra == nil || *ra.Memory.Limit != limit) {
				t.Errorf("resources lost: %+v", ra)
			}
		})
	}
}
