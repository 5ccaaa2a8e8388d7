package state

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLazyRoundTrip: a state saved and loaded keeps its config, whole or
// in part, without decoding it on load.
func TestLazyRoundTrip(t *testing.T) {
	spec := &specs.Spec{
		Version:  "1.3.0",
		Hostname: "h",
		Process:  &specs.Process{Args: []string{"/bin/sh"}, Cwd: "/"},
		Hooks:    &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
	}
	in := State{Public: Public{ID: "c"}, Config: LazyOf(spec)}
	data, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	got, err := out.Config.Get()
	if err != nil || !reflect.DeepEqual(got, spec) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, spec)
	}
	var part struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	if err := out.Config.DecodeInto(&part); err != nil || !reflect.DeepEqual(part.Hooks, spec.Hooks) {
		t.Fatalf("DecodeInto hooks = %+v, %v", part.Hooks, err)
	}
	again, _ := json.Marshal(&out)
	if string(again) != string(data) {
		t.Fatalf("saved again differs:\n%s\n%s", again, data)
	}
	if out.Resources != nil {
		t.Fatal("absent resources came back")
	}
	if LazyOf[specs.LinuxResources](nil) != nil {
		t.Fatal("LazyOf(nil) is not nil")
	}
	if r, err := out.Resources.Get(); r != nil || err != nil {
		t.Fatalf("nil Lazy Get = %v, %v", r, err)
	}
}
