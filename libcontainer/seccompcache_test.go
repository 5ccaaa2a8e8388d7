package libcontainer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
)

// TestSeccompCache: the second compile of a profile comes from the cache,
// identical, without decoding the profile; a damaged cache entry is
// compiled past; the cache keeps at most seccompCacheMax entries.
func TestSeccompCache(t *testing.T) {
	root := t.TempDir()
	raw := json.RawMessage(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","write","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}`)
	src := &seccompSource{root: root, Seccomp: config.NewSeccomp(raw, "the test")}
	// The same JSON without its profile: compiled only from the cache.
	cachedOnly := &seccompSource{root: root, Seccomp: &config.Seccomp{JSON: raw}}
	if _, err := cachedOnly.compile(); err == nil {
		t.Fatal("a source without its profile compiled with nothing cached")
	}
	first, err := src.compile()
	if err != nil {
		t.Fatal(err)
	}
	second, err := cachedOnly.compile()
	if err != nil {
		t.Fatalf("not from the cache: %v", err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("cached filter differs:\n%+v\n%+v", first, second)
	}
	entries, _ := os.ReadDir(filepath.Join(root, seccompCacheDir))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %d, want 1", len(entries))
	}
	os.WriteFile(filepath.Join(root, seccompCacheDir, entries[0].Name()), []byte("junk"), 0o600)
	if _, err := cachedOnly.compile(); err == nil {
		t.Error("a damaged entry was used")
	}
	third, err := src.compile()
	if err != nil || !reflect.DeepEqual(first, third) {
		t.Errorf("after a damaged entry: %v", err)
	}
	for i := 0; i < seccompCacheMax+5; i++ {
		writeCachedFilter(filepath.Join(root, seccompCacheDir, string(rune('a'+i%26))+string(rune('a'+i/26))), first)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, seccompCacheDir)); len(entries) > seccompCacheMax {
		t.Errorf("cache entries: %d, more than %d", len(entries), seccompCacheMax)
	}
}

// TestCachedFilterChecked: an entry that is not a program the compiler
// makes — empty, running off its end, jumping out, an unknown instruction
// or flag — is never used; nor is a cache directory others may write.
func TestCachedFilterChecked(t *testing.T) {
	dir := t.TempDir()
	entry := func(flags uint32, prog ...[8]byte) string {
		b := binary.NativeEndian.AppendUint32(nil, cacheMagic)
		b = binary.NativeEndian.AppendUint32(b, flags)
		b = binary.NativeEndian.AppendUint32(b, 0)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(prog)))
		for _, in := range prog {
			b = append(b, in[:]...)
		}
		p := filepath.Join(dir, fmt.Sprint(len(prog), flags, prog))
		os.WriteFile(p, b, 0o600)
		return p
	}
	ins := func(code uint16, jt, jf uint8, k uint32) (b [8]byte) {
		binary.NativeEndian.PutUint16(b[:], code)
		b[2], b[3] = jt, jf
		binary.NativeEndian.PutUint32(b[4:], k)
		return b
	}
	ret := ins(unix.BPF_RET|unix.BPF_K, 0, 0, 0x7fff0000)
	ld := ins(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, 0)
	if _, err := readCachedFilter(entry(0, ld, ret)); err != nil {
		t.Fatalf("a good entry refused: %v", err)
	}
	for name, p := range map[string]string{
		"empty":            entry(0),
		"runs off its end": entry(0, ret, ld),
		"jumps out":        entry(0, ins(unix.BPF_JMP|unix.BPF_JA, 0, 0, 5), ret),
		"conditional out":  entry(0, ins(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, 0, 9, 1), ret),
		"unknown code":     entry(0, ins(unix.BPF_LD|unix.BPF_IMM, 0, 0, 0), ret),
		"unknown flag":     entry(1<<20, ret),
	} {
		if _, err := readCachedFilter(p); err == nil {
			t.Errorf("%s: used", name)
		}
	}
	open := filepath.Join(t.TempDir(), "cache")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if cacheDirOK(open) {
		t.Error("a cache directory others may write is used")
	}
	if !cacheDirOK(filepath.Join(t.TempDir(), "missing")) {
		t.Error("a missing cache directory (made 0700) is not used")
	}
}
