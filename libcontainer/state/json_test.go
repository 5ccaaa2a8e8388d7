package state

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// encodeWithJSON is encode as it was written with encoding/json: the
// reference encode must match byte for byte.
func encodeWithJSON(s *State) ([]byte, error) {
	plain := *s
	plain.Config, plain.Resources, plain.Hooks = nil, nil, nil
	data, err := json.Marshal(&plain)
	if err != nil {
		return nil, err
	}
	data = data[:len(data)-1]
	for _, part := range []struct {
		key string
		raw json.RawMessage
	}{{"kanConfig", s.Config.rawJSON()}, {"kanResources", s.Resources.rawJSON()}, {"kanHooks", s.Hooks.rawJSON()}} {
		if part.raw != nil {
			data = append(append(append(append(data, ',', '"'), part.key...), '"', ':'), part.raw...)
		}
	}
	return append(data, '}'), nil
}

func sampleStates() []*State {
	limit := int64(1 << 20)
	full := &State{
		Public: Public{
			OCIVersion: "1.3.0", ID: "c1", Pid: 4242, Status: "created", Bundle: "/srv/bundles/<c1> & \"x\"",
			Rootfs: "/srv/bundles/c1/rootfs\xff", Created: time.Date(2026, 12, 2, 16, 20, 57, 123456789, time.UTC), Owner: "root",
			Annotations: map[string]string{"b": "2", "a": "1", "io.kubernetes.cri.sandbox-id": "abc", "\u2028": "\t"},
		},
		InitStartTime: 123456789, CgroupPath: "/sys/fs/cgroup/kan/c1", CgroupTop: "/sys/fs/cgroup/kan",
		Started: true, SystemdUnit: "kan-c1.scope", Rootless: true, HooksKept: true,
		Config:    LazyOf(&specs.Spec{Version: "1.3.0", Hostname: "h"}),
		Resources: LazyOf(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}),
		Hooks:     LazyOf(&specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}),
	}
	local := *full
	local.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	plain := *full
	plain.Bundle, plain.Rootfs = "/srv/bundles/c1", "/srv/bundles/c1/rootfs"
	plain.Annotations = map[string]string{"b": "2", "a": "1", "io.kubernetes.cri.sandbox-id": "abc", "ünï": "cødé"}
	return []*State{
		{},
		{Public: Public{ID: "c2", Status: "creating", Annotations: map[string]string{}}},
		full,
		&local,
		&plain,
		{Public: Public{OCIVersion: "1.0.2", ID: "c3", Pid: -1, Created: time.Now()}, Config: LazyRaw[specs.Spec]([]byte(` {"ociVersion": "1.0.2"} `))},
	}
}

// TestEncodeIsEncodingJSON: encode writes what encoding/json wrote.
func TestEncodeIsEncodingJSON(t *testing.T) {
	for i, s := range sampleStates() {
		got, err := encode(s)
		want, werr := encodeWithJSON(s)
		if err != nil || werr != nil || string(got) != string(want) {
			t.Errorf("state %d: encode\n%s (%v)\nencoding/json\n%s (%v)", i, got, err, want, werr)
		}
	}
}

// FuzzEncode: the same with any strings.
func FuzzEncode(f *testing.F) {
	f.Add("c1", "/b\x00<>&", "created", "key", "välue\u2029", uint64(7), true)
	f.Fuzz(func(t *testing.T, id, bundle, status, key, value string, start uint64, started bool) {
		s := &State{Public: Public{ID: id, Bundle: bundle, Status: status, Annotations: map[string]string{key: value, value: key}}, InitStartTime: start, Started: started, CgroupPath: value}
		got, err := encode(s)
		want, werr := encodeWithJSON(s)
		if err != nil || werr != nil || string(got) != string(want) {
			t.Fatalf("encode\n%s (%v)\nencoding/json\n%s (%v)", got, err, want, werr)
		}
	})
}

// TestDecodeFastReadsEncode: what encode writes is read without
// encoding/json (unless a string needed an escape), to what encoding/json
// reads.
func TestDecodeFastReadsEncode(t *testing.T) {
	for i, s := range sampleStates() {
		data, err := encode(s)
		if err != nil {
			t.Fatal(err)
		}
		var fast, ref State
		if !decodeFast(data, &fast) {
			if bytes.IndexByte(data, '\\') < 0 {
				t.Errorf("state %d: left to encoding/json: %s", i, data)
			}
			continue
		}
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Errorf("state %d: read\n%+v\nencoding/json\n%+v", i, fast, ref)
		}
	}
}

// FuzzDecodeState: whatever decodeFast reads, encoding/json reads to the
// same.
func FuzzDecodeState(f *testing.F) {
	for _, s := range sampleStates() {
		data, _ := encode(s)
		f.Add(data)
	}
	f.Add([]byte(`{"id": null, "created": null, "kanConfig": null, "pid": 1.5}`))
	f.Add([]byte(`{"created": 5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast State
		if !decodeFast(data, &fast) {
			return
		}
		var ref State
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("read %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%q: read\n%+v\nencoding/json\n%+v", data, fast, ref)
		}
	})
}
