// Package state keeps what kan knows about a container between commands: a
// directory per container under the root (--root, /run/kan by default) that
// holds state.json, written atomically, and the exec fifo, guarded by an
// flock(2) on the directory so that commands on one container serialise.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/crashpoint"
)

// File names inside a container's directory.
const (
	StateFile = "state.json"
	FifoFile  = "exec.fifo"
	DoneFile  = "exec.done"
)

// MaxIDLength bounds container ids: they name a directory and appear in
// cgroup paths and log lines.
const MaxIDLength = 1024

// idChars says whether id is made of letters, digits and _ + . -, and
// starts with a letter or a digit.
func idChars(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '+' && c != '.' && c != '-') {
			return false
		}
	}
	return id != ""
}

// ValidateID rejects ids that could not safely name a directory under the
// root: empty, over-long, containing '/', or made of dots.
func ValidateID(id string) error {
	switch {
	case id == "":
		return errors.New("container id is empty")
	case len(id) > MaxIDLength:
		return fmt.Errorf("container id is %d bytes long, the limit is %d", len(id), MaxIDLength)
	case !idChars(id) || strings.Contains(id, ".."):
		return fmt.Errorf("invalid container id %q: use letters, digits and _ + . - (not starting with . and without ..)", id)
	}
	return nil
}

// Public is the state as `kan state` prints it: the runtime-spec state and
// runc's additions.
type Public struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// State is the content of state.json: the public state and, flattened
// beside it, what kan itself needs later.
type State struct {
	Public

	InitStartTime uint64 `json:"kanInitStartTime,omitempty"` // /proc/<pid>/stat field 22, guards against pid reuse
	CgroupPath    string `json:"kanCgroupPath,omitempty"`    // absolute directory of the container's cgroup
	CgroupTop     string `json:"kanCgroupTop,omitempty"`     // the topmost of its parents create made, removed with it
	Started       bool   `json:"kanStarted,omitempty"`       // start has released the init
	// SystemdUnit is the transient unit that holds the cgroup, for a
	// container created with --systemd-cgroup: delete and update reach
	// systemd through it whether or not they are given the flag (CRI-O
	// repeats it on every call, the containerd shim does not).
	SystemdUnit string `json:"kanSystemdUnit,omitempty"`
	// Rootless: the container was created by a rootless kan. Its unit,
	// if any, is in the user's systemd instance (reached over the session
	// bus), and an update leaves device rules alone as create did.
	Rootless bool `json:"kanRootless,omitempty"`
	// Config is the container's config as created: the hooks of start
	// and delete, the devices an update keeps, the process exec starts from.
	Config *Lazy[specs.Spec] `json:"kanConfig,omitempty"`
	// Resources are the cgroup resources in force: the config's, with
	// every update merged in, so that an update changes only what it
	// names.
	Resources *Lazy[specs.LinuxResources] `json:"kanResources,omitempty"`
	// Hooks are the config's hooks, kept apart: start and delete read
	// them, and finding them in the config means reading all of it (a
	// seccomp profile alone is tens of kilobytes). HooksKept tells that a
	// create that had no hooks said so (states of an older kan have
	// neither: the config is read then).
	Hooks     *Lazy[specs.Hooks] `json:"kanHooks,omitempty"`
	HooksKept bool               `json:"kanHooksKept,omitempty"`
}

// OCI returns the runtime-spec state with the given status: what hooks
// read on stdin.
func (s *State) OCI(status string) []byte {
	data, _ := json.Marshal(s.Spec(status))
	return data
}

// Spec is the state as the runtime spec's type, with the given status.
func (s *State) Spec(status string) specs.State {
	return specs.State{
		Version:     s.OCIVersion,
		ID:          s.ID,
		Status:      specs.ContainerState(status),
		Pid:         s.Pid,
		Bundle:      s.Bundle,
		Annotations: s.Annotations,
	}
}

// Dir is one container's directory under the root, opened and locked.
type Dir struct {
	ID   string
	Path string
	fd   int // the directory, flock'd
}

// ErrNotExist is returned when a container has no directory under the root.
var ErrNotExist = errors.New("container does not exist")

// ErrExist is returned by Create when the id is taken.
var ErrExist = errors.New("container already exists")

// Create makes the directory for a new container id and returns it locked.
// The directory is built under a temporary name and renamed into place with
// RENAME_NOREPLACE, so that no other command can see it before it is
// locked and exactly one of several concurrent creates wins.
func Create(root, id string) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", root, err)
	}
	SweepTemp(root)
	for try := 0; ; try++ {
		d, err := create(root, id)
		// A concurrent SweepTemp may remove our temporary directory
		// between its creation and our lock: make another.
		if errors.Is(err, unix.ENOENT) && try < 10 {
			continue
		}
		return d, err
	}
}

func create(root, id string) (*Dir, error) {
	tmp, err := os.MkdirTemp(root, tempPrefix+safePrefix(id))
	if err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	fd, err := lockDir(tmp, unix.LOCK_EX)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	crashpoint.Hit("create-state-tmpdir")
	final := filepath.Join(root, id)
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE); err != nil {
		unix.Close(fd)
		os.Remove(tmp)
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("container %q: %w", id, ErrExist)
		}
		return nil, fmt.Errorf("create state dir %s: %w", final, err)
	}
	crashpoint.Hit("create-state-dir")
	return &Dir{ID: id, Path: final, fd: fd}, nil
}

// tempPrefix starts the names of state directories being created.
const tempPrefix = ".new-"

// SweepTemp removes the temporary state directories of creates that died
// before renaming them into place: those no process holds locked.
func SweepTemp(root string) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		path := filepath.Join(root, e.Name())
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(path)
		}
		unix.Close(fd)
	}
}

func safePrefix(id string) string {
	if len(id) > 32 {
		id = id[:32]
	}
	return id + "-"
}

// Open locks the directory of an existing container. how is unix.LOCK_EX
// for commands that change the container or unix.LOCK_SH for readers.
func Open(root, id string, how int) (*Dir, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(root, id)
	fd, err := lockDir(path, how)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, err
	}
	// The directory may have been removed while we waited for the lock.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink == 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	return &Dir{ID: id, Path: path, fd: fd}, nil
}

func lockDir(path string, how int) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open state dir %s: %w", path, err)
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("lock state dir %s: %w", path, err)
	}
	return fd, nil
}

// Fd is the open directory, for openat-relative access.
func (d *Dir) Fd() int { return d.fd }

// Close releases the lock.
func (d *Dir) Close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// Remove deletes the directory and everything in it, then releases the lock.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.Close()
	if err != nil {
		return fmt.Errorf("remove state dir %s: %w", d.Path, err)
	}
	return nil
}

// Save writes state.json atomically: a reader sees the old file or the new
// one, never a mix, even if kan is killed while writing.
func (d *Dir) Save(s *State) error {
	data, err := encode(s)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return WriteFileAtomic(filepath.Join(d.Path, StateFile), data, 0o600)
}

// Load reads state.json of this directory.
func (d *Dir) Load() (*State, error) {
	return Read(filepath.Dir(d.Path), d.ID)
}

// Read reads a container's state.json without taking the lock; Save's
// atomic rename makes that safe.
func Read(root, id string) (*State, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, id, StateFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(filepath.Join(root, id)); serr == nil {
				// The directory exists but create has not saved
				// anything yet (or died before it could).
				return &State{Public: Public{ID: id, Status: "creating"}}, nil
			}
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state of %q: %w", id, err)
	}
	var s State
	if !decodeFast(data, &s) {
		s = State{}
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("state of %q is corrupt: %w", id, err)
		}
	}
	return &s, nil
}

// IsLocked tells whether some command holds the container's lock right now.
func IsLocked(root, id string) bool {
	fd, err := unix.Open(filepath.Join(root, id), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB) == unix.EWOULDBLOCK
}

// List returns the ids of all containers under root, sorted.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", root, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// WriteFileAtomic writes data to a temporary file beside path and puts it
// in path's place.
//
// The swap is renameat2's RENAME_EXCHANGE, then the old file (now under the
// temporary name) is removed: as atomic for readers as a rename over path,
// but ext4 (where /run is not a tmpfs) starts writing back a file renamed
// over another (auto_da_alloc), which made each save of a container's state
// cost 0.3 to 2 ms. The state lives in /run and need not outlive a reboot,
// so nothing here waits for the disk. A kan killed between the two steps
// leaves the temporary file, which goes with the directory. Where path is
// not a regular file yet, a plain rename does it.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data[:len(data)/2])
	if err == nil {
		crashpoint.Hit("save-partial")
		_, err = f.Write(data[len(data)/2:])
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	exchanged := false
	if err == nil {
		crashpoint.Hit("save-tmp-written")
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode().IsRegular() {
			exchanged = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE) == nil
		}
		if !exchanged {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil || exchanged {
		os.Remove(tmp)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
