package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
)

// TestInitConfigCarriesEveryField: every field of kan's model of a
// container either reaches the Go init (initConfig) or is one kan acts on
// itself, for either init. A field added to the model fails here until it
// is sorted into one or the other.
func TestInitConfigCarriesEveryField(t *testing.T) {
	kanOnly := map[string]string{
		"Annotations": "the state", "Process": "the plan", "UIDMappings": "kan writes the id maps",
		"GIDMappings": "kan writes the id maps", "TimeOffsets": "the nsenter stage, from the environment",
		"CgroupsPath": "kan makes the cgroup", "Resources": "kan sets them", "NetDevices": "kan moves them",
		"Seccomp": "the plan", "Record": "the state", "Namespaces": "kan's clone and the nsenter stage",
	}
	reaches := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeOf(rootfs.Config{}), reflect.TypeOf(names{}), reflect.TypeOf(initConfig{})} {
		for i := 0; i < typ.NumField(); i++ {
			reaches[typ.Field(i).Name] = true
		}
	}
	model := reflect.TypeOf(config.Container{})
	for i := 0; i < model.NumField(); i++ {
		f := model.Field(i).Name
		if _, ok := kanOnly[f]; !ok && !reaches[f] {
			t.Errorf("config.Container.%s neither reaches the init nor is listed as kan's own", f)
		}
	}
}

// TestInitConfigRoundTrip: what the Go init decodes is what kan built the
// rootfs from for the C init (rootfsConfig), with the names and hooks.
func TestInitConfigRoundTrip(t *testing.T) {
	cfg := &config.Container{
		Bundle: "/b", Rootfs: "/b/rootfs", Readonly: true, Hostname: "h", Domainname: "d",
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Hooks:   &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}},
		Process: &config.Process{Terminal: true},
		Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace},
			{Type: specs.UserNamespace}, {Type: specs.CgroupNamespace}},
		Sysctl:            map[string]string{"net.ipv4.ip_forward": "1"},
		Devices:           []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3}},
		RootfsPropagation: "slave",
		MaskedPaths:       []string{"/proc/kcore"},
		ReadonlyPaths:     []string{"/proc/sys"},
		MountLabel:        "l",
	}
	ic := &initConfig{Rootfs: rootfsConfig(cfg, "/sys/fs/cgroup/x", true, true), Names: namesOf(cfg), Hooks: cfg.Hooks, Plan: []byte{1, 2}}
	data, err := json.Marshal(ic)
	if err != nil {
		t.Fatal(err)
	}
	var got initConfig
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, ic) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", &got, ic)
	}
	rc := got.Rootfs
	if !rc.UserNS || !rc.CgroupNS || !rc.NoPivot || !rc.Rootless || !rc.Terminal || !rc.Readonly || got.Names.Hostname != "h" {
		t.Errorf("derived fields: %+v, names %+v", rc, got.Names)
	}
	// Without a UTS namespace of its own, the names are not the init's
	// to set.
	cfg.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if n := namesOf(cfg); n.Hostname != "" || n.Domainname != "" || n.Sysctl == nil {
		t.Errorf("names without a UTS namespace: %+v", n)
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
