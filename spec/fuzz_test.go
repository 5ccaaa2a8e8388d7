package spec

import (
	"encoding/json"
	"testing"
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
