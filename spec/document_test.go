package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDocumentMirrorsSpec: document and linuxDocument have the fields of
// specs.Spec and specs.Linux, with the same JSON names, so a field a new
// runtime-spec adds is not silently dropped by Decode.
func TestDocumentMirrorsSpec(t *testing.T) {
	for _, p := range [][2]reflect.Type{
		{reflect.TypeOf(document{}), reflect.TypeOf(specs.Spec{})},
		{reflect.TypeOf(linuxDocument{}), reflect.TypeOf(specs.Linux{})},
	} {
		mine, theirs := p[0], p[1]
		if mine.NumField() != theirs.NumField() {
			t.Errorf("%s has %d fields, %s %d", mine, mine.NumField(), theirs, theirs.NumField())
		}
		for i := range theirs.NumField() {
			f := theirs.Field(i)
			g, ok := mine.FieldByName(f.Name)
			if !ok || g.Tag.Get("json") != f.Tag.Get("json") {
				t.Errorf("%s.%s (json %q) is not in %s with the same JSON name", theirs, f.Name, f.Tag.Get("json"), mine)
			}
		}
	}
}

// TestDecode: Decode gives what Parse gives, with linux.seccomp and
// linux.resources as written.
func TestDecode(t *testing.T) {
	in := `{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"hostname":"h",
"linux":{"resources":{"memory":{"limit":1048576}},"seccomp": {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]},"namespaces":[{"type":"mount"}]},
"windows":{"layerFolders":["C:\\x"]},"solaris":null}`
	c, err := Decode("config.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Parse("config.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Linux.Seccomp != nil || full.Linux.Seccomp == nil || full.Linux.Seccomp.Syscalls[0].Names[0] != "read" {
		t.Errorf("seccomp: decoded %+v, parsed %+v", c.Spec.Linux.Seccomp, full.Linux.Seccomp)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(c.Seccomp, &p); err != nil || !reflect.DeepEqual(&p, full.Linux.Seccomp) {
		t.Errorf("seccomp JSON %s decodes to %+v (%v), want %+v", c.Seccomp, p, err, full.Linux.Seccomp)
	}
	if string(c.Resources) != `{"memory":{"limit":1048576}}` {
		t.Errorf("resources JSON %s", c.Resources)
	}
	full.Linux.Seccomp = nil
	if !reflect.DeepEqual(c.Spec, full) {
		t.Errorf("Decode %+v\nParse %+v", c.Spec, full)
	}
	if c.Spec.Windows == nil || c.Spec.Windows.LayerFolders[0] != `C:\x` || c.Spec.Solaris != nil {
		t.Errorf("other platforms: windows %+v, solaris %+v", c.Spec.Windows, c.Spec.Solaris)
	}
	if string(c.Raw) != in {
		t.Errorf("raw %q", c.Raw)
	}
}

// TestDecodeErrors: errors within the sections Decode keeps as JSON are
// as good as Parse's.
func TestDecodeErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"linux":{"seccomp":"x"}}`, `config.json: field "linux.seccomp": cannot use string "x" as specs.LinuxSeccomp (line 1, column 21)`},
		{`{"linux":{"resources":{"memory":{"limit":"x"}}}}`, `config.json: field "linux.resources.memory.limit": cannot use string "x" as int64 (line 1, column 42)`},
		{`{"windows":{"layerFolders":"x"}}`, `config.json: field "windows.layerFolders": cannot use string "x" as []string`},
		{"{\"linux\":{\"seccomp\":{\"defaultAction\":1}}", `invalid JSON at line 1, column 41`},
	} {
		_, err := Decode("config.json", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%s): %v, want %q", tt.in, err, tt.want)
		}
	}
	// A type error within linux.seccomp is found when the profile is read.
	c, err := Decode("config.json", []byte(`{"linux":{"seccomp":{"defaultAction":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `config.json: linux.seccomp: field "defaultAction": cannot use number 1 as specs.LinuxSeccompAction (line 1, column 18)`
	if _, err := ParseSeccomp("config.json", c.Seccomp); err == nil || err.Error() != want {
		t.Errorf("ParseSeccomp: %v, want %q", err, want)
	}
	if _, err := Parse("config.json", []byte(`{"linux":{"seccomp":{"defaultAction":1}}}`)); err == nil || !strings.Contains(err.Error(), `field "linux.seccomp.defaultAction"`) {
		t.Errorf("Parse: %v", err)
	}
}
