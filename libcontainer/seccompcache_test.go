package libcontainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompCache: the second compile of a profile comes from the cache,
// identical, without decoding the profile; a damaged cache entry is
// compiled past; the cache keeps at most seccompCacheMax entries.
func TestSeccompCache(t *testing.T) {
	root := t.TempDir()
	raw := json.RawMessage(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}`)
	decoded := 0
	src := &seccompSource{root: root, raw: raw, profile: func() (*specs.LinuxSeccomp, error) {
		decoded++
		var p specs.LinuxSeccomp
		return &p, json.Unmarshal(raw, &p)
	}}
	first, err := src.compile()
	if err != nil {
		t.Fatal(err)
	}
	second, err := src.compile()
	if err != nil {
		t.Fatal(err)
	}
	if decoded != 1 {
		t.Errorf("the profile was decoded %d times, want once (then cached)", decoded)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("cached filter differs:\n%+v\n%+v", first, second)
	}
	entries, _ := os.ReadDir(filepath.Join(root, seccompCacheDir))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %d, want 1", len(entries))
	}
	os.WriteFile(filepath.Join(root, seccompCacheDir, entries[0].Name()), []byte("junk"), 0o600)
	third, err := src.compile()
	if err != nil || !reflect.DeepEqual(first, third) || decoded != 2 {
		t.Errorf("after a damaged entry: %v, decoded %d times", err, decoded)
	}
	for i := 0; i < seccompCacheMax+5; i++ {
		writeCachedFilter(filepath.Join(root, seccompCacheDir, string(rune('a'+i%26))+string(rune('a'+i/26))), first)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, seccompCacheDir)); len(entries) > seccompCacheMax {
		t.Errorf("cache entries: %d, more than %d", len(entries), seccompCacheMax)
	}
}
