// Package cgroups manages a container's cgroup on the cgroup v2 hierarchy:
// where the hierarchy is mounted, which directory belongs to a container,
// creating it, setting its resource limits (resources.go), freezing it
// (freeze.go), reading its usage (stats.go), killing everything in it and
// removing it. kan supports only cgroup v2; on a hybrid host it uses the
// unified mount wherever it is.
package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Mountpoint finds the cgroup2 mount in /proc/self/mountinfo. On a pure v2
// host that is /sys/fs/cgroup; on a hybrid one it is elsewhere (often
// /sys/fs/cgroup/unified). Where there are several, the one at
// /sys/fs/cgroup wins, then the shortest path.
func Mountpoint() (string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	best := ""
	for _, m := range mounts {
		if m.Root != "/" {
			continue // a bind mount of a sub-cgroup, not the hierarchy
		}
		switch {
		case m.Mountpoint == "/sys/fs/cgroup":
			return m.Mountpoint, nil
		case best == "" || len(m.Mountpoint) < len(best):
			best = m.Mountpoint
		}
	}
	if best == "" {
		return "", errors.New("no cgroup2 filesystem is mounted (kan needs cgroup v2)")
	}
	return best, nil
}

// Own returns this process's cgroup v2 path, from the "0::" line of
// /proc/self/cgroup.
func Own() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("/proc/self/cgroup has no cgroup v2 entry")
}

// Path turns linux.cgroupsPath into a directory under the hierarchy mounted
// at mnt. An absolute path is taken from the hierarchy's root, a relative
// one from kan's own cgroup, and an empty one defaults to /kan/<id>.
func Path(mnt, cgroupsPath, id string) (string, error) {
	for _, part := range strings.Split(cgroupsPath, "/") {
		if part == ".." {
			return "", fmt.Errorf("linux.cgroupsPath %q leaves the cgroup hierarchy", cgroupsPath)
		}
	}
	var rel string
	switch {
	case cgroupsPath == "":
		rel = filepath.Join("/kan", id)
	case filepath.IsAbs(cgroupsPath):
		rel = filepath.Clean(cgroupsPath)
	default:
		own, err := Own()
		if err != nil {
			return "", fmt.Errorf("linux.cgroupsPath %q is relative, but kan's own cgroup is unknown: %w", cgroupsPath, err)
		}
		rel = filepath.Join(own, cgroupsPath)
	}
	if rel == "/" {
		return "", fmt.Errorf("linux.cgroupsPath %q is the root cgroup, which a container cannot own", cgroupsPath)
	}
	return filepath.Join(mnt, rel), nil
}

// Create makes the container's cgroup directory. An existing one is
// refused, as runc (1.2 on) refuses it, when processes are in it: two
// containers must not share a cgroup, the delete of one would kill the
// other. A frozen one is refused too: the container's init would freeze
// on entering it and create would wait for ever. Refused, the directory
// is left as it was.
func Create(dir string) error {
	if err := CheckFree(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	return nil
}

// CheckFree refuses, with runc's words, an existing cgroup that a new
// container cannot use; a missing one is fine.
func CheckFree(dir string) error {
	if !exists(dir) {
		return nil
	}
	pids, err := AllPids(dir)
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if len(pids) > 0 {
		return fmt.Errorf("cgroup %s: container's cgroup is not empty: %d process(es) found", dir, len(pids))
	}
	// cgroup.freeze is the cgroup's own setting; "frozen 1" in
	// cgroup.events also tells of a frozen ancestor.
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cgroup %s: %w", dir, err)
	}
	inherited, _ := eventValue(dir, "frozen")
	if strings.TrimSpace(string(data)) == "1" || inherited == "1" {
		return fmt.Errorf("cgroup %s: container's cgroup unexpectedly frozen", dir)
	}
	return nil
}

// MissingTop returns the topmost directory on the way to dir that does not
// exist yet — what Create will make first — or "" when dir exists.
func MissingTop(dir string) string {
	if exists(dir) {
		return ""
	}
	top := dir
	for p := filepath.Dir(dir); p != top && !exists(p); p = filepath.Dir(p) {
		top = p
	}
	return top
}

// RemoveParents removes the now empty parents of dir up to and including
// top, the first directory a create made for it (MissingTop): a container
// must not leave behind the cgroups made only to hold it. It stops at the
// first that still holds something — another container's cgroup, say.
func RemoveParents(dir, top string) {
	if top == "" || top == dir || !strings.HasPrefix(dir, top+"/") {
		return
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if unix.Rmdir(p) != nil || p == top {
			return
		}
	}
}

// Controllers lists the controllers available in dir (cgroup.controllers).
func Controllers(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

// Pids lists the processes in dir.
func Pids(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func populated(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		pids, _ := Pids(dir)
		return len(pids) > 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "populated 1" {
			return true
		}
	}
	return false
}

// Signal sends sig to every process in dir. SIGKILL goes through
// cgroup.kill where the kernel has it (5.14+): one write, no race with
// forks, and frozen processes die too.
func Signal(dir string, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		if err == nil || errors.Is(err, os.ErrNotExist) && !exists(dir) {
			return nil
		}
	}
	// Without cgroup.kill, or for other signals: signal what is there,
	// again until nothing new appears (a fork may race with us).
	seen := map[int]bool{}
	for round := 0; round < 10; round++ {
		pids, err := Pids(dir)
		if err != nil {
			if !exists(dir) {
				return nil
			}
			return fmt.Errorf("list processes of %s: %w", dir, err)
		}
		fresh := 0
		for _, pid := range pids {
			if !seen[pid] {
				seen[pid] = true
				fresh++
				if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
					return fmt.Errorf("signal %d: %w", pid, err)
				}
			}
		}
		if fresh == 0 {
			break
		}
	}
	return nil
}

func exists(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}

// Destroy kills whatever is left in dir, waits until it is empty and
// removes it. A missing directory is not an error.
func Destroy(dir string) error {
	if !exists(dir) {
		return nil
	}
	if err := Signal(dir, unix.SIGKILL); err != nil {
		return err
	}
	var err error
	delay := time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		err = removeTree(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY {
			break
		}
		// Dying processes leave the cgroup a moment after SIGKILL.
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
		if populated(dir) {
			Signal(dir, unix.SIGKILL)
		}
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

// removeTree removes dir after the cgroups the container made inside it:
// rmdir on a cgroup that has children fails with EBUSY.
func removeTree(dir string) error {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil && err != unix.ENOENT {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}
