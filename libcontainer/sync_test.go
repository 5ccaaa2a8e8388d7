package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestWireSpecCarriesEveryField: every field of specs.Spec and specs.Linux
// either reaches the init or is one kan acts on itself. A field added to
// runtime-spec fails here until it is sorted into one or the other.
func TestWireSpecCarriesEveryField(t *testing.T) {
	kanOnly := map[string][]string{
		"Spec":  {"Version", "Annotations", "Solaris", "Windows", "VM", "ZOS", "FreeBSD"},
		"Linux": {"Resources", "CgroupsPath", "NetDevices", "Seccomp", "IntelRdt"},
	}
	check := func(name string, full, wire reflect.Type) {
		for i := 0; i < full.NumField(); i++ {
			f := full.Field(i).Name
			_, carried := wire.FieldByName(f)
			if !carried && !slices.Contains(kanOnly[name], f) {
				t.Errorf("%s.%s neither reaches the init nor is listed as kan's own", name, f)
			}
		}
	}
	check("Spec", reflect.TypeOf(specs.Spec{}), reflect.TypeOf(wireSpec{}))
	check("Linux", reflect.TypeOf(specs.Linux{}), reflect.TypeOf(wireLinux{}))
}

// TestWireSpecRoundTrip: what the init rebuilds equals the config, less
// the fields it does not get.
func TestWireSpecRoundTrip(t *testing.T) {
	umask := uint32(0o27)
	s := &specs.Spec{
		Version:    "1.3.0",
		Process:    &specs.Process{Args: []string{"/bin/true"}, Cwd: "/", User: specs.User{UID: 1, Umask: &umask}},
		Root:       &specs.Root{Path: "rootfs", Readonly: true},
		Hostname:   "h",
		Domainname: "d",
		Mounts:     []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Hooks:      &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}},
		Linux: &specs.Linux{
			UIDMappings:       []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			GIDMappings:       []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			Sysctl:            map[string]string{"net.ipv4.ip_forward": "1"},
			Namespaces:        []specs.LinuxNamespace{{Type: specs.PIDNamespace}},
			Devices:           []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3}},
			RootfsPropagation: "slave",
			MaskedPaths:       []string{"/proc/kcore"},
			ReadonlyPaths:     []string{"/proc/sys"},
			MountLabel:        "l",
			Personality:       &specs.LinuxPersonality{Domain: specs.PerLinux32},
			MemoryPolicy:      &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"},
			TimeOffsets:       map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}},
			Resources:         &specs.LinuxResources{},
			CgroupsPath:       "/x",
		},
	}
	data, err := json.Marshal(toWire(s))
	if err != nil {
		t.Fatal(err)
	}
	var w wireSpec
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatal(err)
	}
	want := *s
	want.Version = ""
	l := *s.Linux
	l.Resources, l.CgroupsPath = nil, ""
	want.Linux = &l
	if got := w.spec(); !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &want)
	}
}

// TestRecvTruncated: a message cut before its newline is an error, never
// the clean end of file that tells kan exec its program runs.
func TestRecvTruncated(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString(`{"type":"error","msg":"cut her`)
	w.Close()
	_, err = newSyncConn(r).recv()
	if err == nil || errors.Is(err, io.EOF) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("recv of a cut message: %v, want io.ErrUnexpectedEOF", err)
	}
	// And a clean end stays io.EOF.
	r2, w2, _ := os.Pipe()
	defer r2.Close()
	w2.Close()
	if _, err := newSyncConn(r2).recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("recv at a clean end: %v, want io.EOF", err)
	}
}

// TestErrnoWorded: an errno the C stages send, on the sync socket or
// through exec.done, is worded as Go words it, whatever the C library.
func TestErrnoWorded(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.WriteString(`{"type":"error","msg":"mounts[3] (proc on /proc): mount proc","errno":40}` + "\n")
		w.WriteString(`{"type":"error","msg":"process.args[0]: executable \"x\" not found in $PATH ()","errno":0}` + "\n")
		w.Close()
	}()
	c := newSyncConn(r)
	for _, want := range []string{
		"mounts[3] (proc on /proc): mount proc: too many levels of symbolic links",
		`process.args[0]: executable "x" not found in $PATH ()`,
	} {
		m, err := c.recv()
		if err != nil || m.Msg != want {
			t.Errorf("recv = %q, %v; want %q", m.Msg, err, want)
		}
	}
	for in, want := range map[string]string{
		"exec /x/prog\x002":          "exec /x/prog: no such file or directory",
		"exec /x/prog\x000":          "exec /x/prog",
		"a startContainer hook: bad": "a startContainer hook: bad",
	} {
		if got := doneMessage([]byte(in)); got != want {
			t.Errorf("doneMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFilesBeyondOneMessage: more files than one message carries
// (SCM_MAX_FD) go over in batches and all arrive, in order.
func TestFilesBeyondOneMessage(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newSyncConn(os.NewFile(uintptr(fds[0]), "a")), newSyncConn(os.NewFile(uintptr(fds[1]), "b"))
	defer a.Close()
	defer b.Close()
	dir := t.TempDir()
	var files []*os.File
	for i := 0; i < 300; i++ {
		f, err := os.Create(fmt.Sprintf("%s/%d", dir, i))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.sendFiles(files) }()
	got, err := b.recvFiles(len(files))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for i, f := range got {
		var st1, st2 unix.Stat_t
		unix.Fstat(int(f.Fd()), &st1)
		unix.Fstat(int(files[i].Fd()), &st2)
		if st1.Ino != st2.Ino {
			t.Fatalf("file %d arrived out of order", i)
		}
		f.Close()
	}
}
