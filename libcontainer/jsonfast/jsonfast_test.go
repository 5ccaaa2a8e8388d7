package jsonfast

import (
	"encoding/json"
	"testing"
)

var strings = []string{
	"", "plain", `"quoted" \back\slash/`, "<html> & </html>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"ünïcødé ✓ 🐳", "\xff\xfe bad \xc3", "line\u2028para\u2029", "/run/kan/c1", "\u00e9\u0301",
}

// TestAppendString: the same bytes as encoding/json.
func TestAppendString(t *testing.T) {
	for _, s := range strings {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range strings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got[1:]) != string(want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got[1:], want)
		}
	})
}

// TestReader: what the reader takes and what it leaves.
func TestReader(t *testing.T) {
	for _, c := range []struct {
		in   string
		read func(r *Reader) bool
		ok   bool
	}{
		{`"abc"`, func(r *Reader) bool { s, ok := r.Str(); return ok && s == "abc" }, true},
		{`"a\"c"`, func(r *Reader) bool { _, ok := r.Str(); return ok }, false},
		{"\"a\x01\"", func(r *Reader) bool { _, ok := r.Str(); return ok }, false},
		{"\"\xff\"", func(r *Reader) bool { _, ok := r.Str(); return ok }, false},
		{`"é"`, func(r *Reader) bool { s, ok := r.Str(); return ok && s == "é" }, true},
		{`4294967295`, func(r *Reader) bool { var v uint32; return SetUint(r, &v) && v == 1<<32-1 }, true},
		{`4294967296`, func(r *Reader) bool { var v uint32; return SetUint(r, &v) }, false},
		{`-9223372036854775808`, func(r *Reader) bool { var v int64; return SetInt(r, &v) && v == -1<<63 }, true},
		{`-0`, func(r *Reader) bool { v := int64(7); return SetInt(r, &v) && v == 0 }, true},
		{`-0`, func(r *Reader) bool { var v uint64; return SetUint(r, &v) }, false},
		{`01`, func(r *Reader) bool { var v int64; return SetInt(r, &v) && r.End() }, false},
		{`1.5`, func(r *Reader) bool { var v int64; return SetInt(r, &v) }, false},
		{`1e2`, func(r *Reader) bool { var v int64; return SetInt(r, &v) }, false},
		{`65536`, func(r *Reader) bool { var v uint16; return SetUint(r, &v) }, false},
		{`65535`, func(r *Reader) bool { var v uint16; return SetUint(r, &v) && v == 65535 }, true},
		{`null`, func(r *Reader) bool { v := uint32(5); return SetUint(r, &v) && v == 5 }, true},
		{`null`, func(r *Reader) bool { v := new(int64); return SetIntPtr(r, &v) && v == nil }, true},
		{`-3`, func(r *Reader) bool { var v *int64; return SetIntPtr(r, &v) && v != nil && *v == -3 }, true},
		{`[]`, func(r *Reader) bool { var v []string; return r.SetStrings(&v) && v != nil && len(v) == 0 }, true},
		{`null`, func(r *Reader) bool { v := []string{"x"}; return r.SetStrings(&v) && v == nil }, true},
		{` { "a" : [ ] , "b" : { } } `, func(r *Reader) bool {
			return r.Object(func(k string) bool { return r.Skip() }) && r.End()
		}, true},
		{`{"a": 1, "a": 2}`, func(r *Reader) bool { return r.Object(func(string) bool { return r.Skip() }) }, false},
		{`[1, 2,]`, func(r *Reader) bool { return r.Skip() }, false},
		{`{"a": [1.5e-3, -0.0, "\u00e9\n\"", true, false, null]}`, func(r *Reader) bool { return r.Skip() && r.End() }, true},
		{`"\u00g0"`, func(r *Reader) bool { return r.Skip() }, false},
		{`"\x"`, func(r *Reader) bool { return r.Skip() }, false},
		{`1.`, func(r *Reader) bool { return r.Skip() && r.End() }, false},
		{`1e`, func(r *Reader) bool { return r.Skip() && r.End() }, false},
		{`nul`, func(r *Reader) bool { return r.Skip() }, false},
		{`{} x`, func(r *Reader) bool { return r.Skip() && r.End() }, false},
	} {
		if got := c.read(NewReader([]byte(c.in))); got != c.ok {
			t.Errorf("%s: read %v, want %v", c.in, got, c.ok)
		}
	}
}

// FuzzSkip: what Skip takes as a whole document is valid JSON.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{}`, `[1, -2.5e+3, "\u00e9", {"a": null}]`, `"x"`, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(data)
		if r.Skip() && r.End() && !json.Valid(data) {
			t.Fatalf("took %q, which is not JSON", data)
		}
	})
}
