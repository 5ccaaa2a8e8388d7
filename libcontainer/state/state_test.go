package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123", "A_b.c+d", "x" + strings.Repeat("y", MaxIDLength-1)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "/abs", "a..b", ".hidden", "-flag", "sp ace", "tab\t", "x" + strings.Repeat("y", MaxIDLength), "ü"} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) accepted a bad id", id)
		}
	}
}

func TestCreateIsExclusiveAndAtomic(t *testing.T) {
	root := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, exists := 0, 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := Create(root, "c1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				d.Close()
			case errors.Is(err, ErrExist):
				exists++
			default:
				t.Errorf("Create: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || exists != 19 {
		t.Fatalf("wins %d, exists %d", wins, exists)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 || entries[0].Name() != "c1" {
		t.Fatalf("root holds %v, want only c1 (no temporary directories)", entries)
	}
}

func TestSaveReadAndLock(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := Read(root, "c2"); err != nil || st.Status != "creating" {
		t.Fatalf("before save: %v %v", st, err)
	}
	if !IsLocked(root, "c2") {
		t.Fatal("a new container dir is not locked")
	}
	if err := d.Save(&State{Public: Public{ID: "c2", Pid: 42, Status: "created"}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if IsLocked(root, "c2") {
		t.Fatal("lock held after Close")
	}
	st, err := Read(root, "c2")
	if err != nil || st.Pid != 42 || st.Status != "created" {
		t.Fatalf("Read: %+v %v", st, err)
	}
	ids, _ := List(root)
	if len(ids) != 1 || ids[0] != "c2" {
		t.Fatalf("List: %v", ids)
	}
	d, err = Open(root, "c2", unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(root, "c2"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Read after Remove: %v", err)
	}
	if _, err := Open(root, "c2", unix.LOCK_EX); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Open after Remove: %v", err)
	}
	if _, err := Read(root, "../etc"); err == nil {
		t.Fatal("Read accepted a path as id")
	}
}

func TestWriteFileAtomicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, s := range []string{"one", "two"} {
		if err := WriteFileAtomic(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(p)
	entries, _ := os.ReadDir(dir)
	if string(data) != "two" || len(entries) != 1 {
		t.Fatalf("content %q, entries %v", data, entries)
	}
}

// TestWriteFileAtomicOverNonFiles: the exchange is only ever made with a
// regular file; over a directory or a symlink the write behaves as a rename
// would (a symlink is replaced, a directory is an error and stays).
func TestWriteFileAtomicOverNonFiles(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(sub, []byte("x"), 0o600); err == nil {
		t.Fatal("wrote over a directory")
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Fatalf("directory gone: %v", err)
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Fatalf("write went through the symlink: target %q", data)
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("link not replaced by a file: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("entries %v, want sub, target, link", entries)
	}
}

// TestSaveIsAtomicForReaders: while one goroutine rewrites state.json with
// states of very different sizes, readers never see a partial or mixed
// file.
func TestSaveIsAtomicForReaders(t *testing.T) {
	root := t.TempDir()
	d, err := Create(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	small := &State{Public: Public{ID: "c1", Status: "created"}}
	big := &State{Public: Public{ID: "c1", Status: "running", Annotations: map[string]string{"x": strings.Repeat("y", 1<<20)}}}
	if err := d.Save(small); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s := small
			if i%2 == 1 {
				s = big
			}
			if err := d.Save(s); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for reads < 300 {
		st, err := Read(root, "c1")
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if st.Status == "running" && len(st.Annotations["x"]) != 1<<20 {
			t.Fatalf("read %d: a mixed state", reads)
		}
		reads++
	}
	close(stop)
	wg.Wait()
}

// TestSweepTemp: the temporary directory of a create that died (unlocked)
// is removed; one whose create still runs (locked) is kept.
func TestSweepTemp(t *testing.T) {
	root := t.TempDir()
	dead := filepath.Join(root, tempPrefix+"dead-1")
	live := filepath.Join(root, tempPrefix+"live-1")
	os.Mkdir(dead, 0o700)
	os.Mkdir(live, 0o700)
	fd, err := lockDir(live, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	SweepTemp(root)
	if _, err := os.Stat(dead); err == nil {
		t.Error("the dead create's directory is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("the live create's directory was removed")
	}
}

// TestEncodeIsMarshal: the state Save writes reads back as json.Marshal's
// would, with the raw parts as they were.
func TestEncodeIsMarshal(t *testing.T) {
	for _, s := range []*State{
		{},
		{Public: Public{ID: "a", Status: "created", Pid: 7}, CgroupPath: "/sys/fs/cgroup/kan/a",
			Config:    LazyRaw[specs.Spec]([]byte("{\n  \"ociVersion\": \"1.0.2\",\n  \"hostname\": \"x\"\n}")),
			Resources: LazyRaw[specs.LinuxResources]([]byte(`{"pids":{"limit":5}}`))},
		{Config: LazyRaw[specs.Spec]([]byte(`{"hostname":"only"}`))},
	} {
		got, err := encode(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("encode gave invalid JSON %s: %v", got, err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("encode: %s\nwant the same as json.Marshal: %s", got, want)
		}
	}
}

// TestIDChars: idChars accepts what ^[a-zA-Z0-9][a-zA-Z0-9_+.-]*$ matches.
func TestIDChars(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_+.-]*$`)
	for _, id := range []string{"", "a", "Z9", "0", "a_b+c.d-e", "_a", "-a", ".a", "+a", "a/b", "a b", "é", "a\x00", "a..b", "abc-", "a:b"} {
		if got, want := idChars(id), re.MatchString(id); got != want {
			t.Errorf("idChars(%q) = %v, the expression says %v", id, got, want)
		}
	}
}
