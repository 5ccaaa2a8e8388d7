package engines

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

func cgroup2Mount() (string, error) { return cgroups.Mountpoint() }

// hasController says whether kan can use a cgroup v2 controller here. On a
// hybrid host (v1 hierarchies plus a v2 one with few controllers) the
// engines use cgroup v1 and runc follows them, while kan is v2-only.
func hasController(t *testing.T, name string) bool {
	t.Helper()
	c, err := cgroups.Controllers(unified)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(c, name)
}

// hybrid: the engines see cgroup v1 (the host mounts v1 hierarchies at
// /sys/fs/cgroup) while kan uses the v2 hierarchy.
func hybrid() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC
}

// Paths the engines create outside their configured state directories
// (shim sockets and fifos, podman's blob cache and tmp dir, dockerd's trust
// key, the runtimes' default roots): removed after the tests when they
// were not there before.
var enginePaths = []string{
	"/run/containerd", "/run/docker", "/run/libpod", "/run/containers",
	"/var/lib/containers", "/var/lib/docker", "/var/lib/containerd",
	"/etc/docker", "/run/runc", "/run/kan", "/run/netns", "/var/run/docker.sock",
	"/run/crun",
}

// Top-level cgroups the engines make: ctr's namespace, docker's parent,
// podman's parent, the CRI plugin's namespace.
var engineID = regexp.MustCompile(`^[0-9a-f]{64}$`)

var engineCgroups = []string{"default", "docker", "libpod_parent", "moby", "k8s.io"}

type hostState struct {
	mounts   map[string]bool
	netdevs  map[string]bool
	cgroups  map[string]bool
	paths    map[string]bool
	children map[string]bool // entries of the enginePaths that are directories
}

func snapshotHost() *hostState {
	h := &hostState{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if fields := strings.Fields(s.Text()); len(fields) > 4 {
				h.mounts[fields[4]] = true
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, e := range ents {
			h.netdevs[e.Name()] = true
		}
	}
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, dir := range hier {
		for _, top := range engineCgroups {
			filepath.WalkDir(filepath.Join(dir, top), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					h.cgroups[p] = true
				}
				return nil
			})
		}
	}
	for _, p := range enginePaths {
		if _, err := os.Lstat(p); err == nil {
			h.paths[p] = true
			if ents, err := os.ReadDir(p); err == nil {
				for _, e := range ents {
					h.children[filepath.Join(p, e.Name())] = true
				}
			}
		}
	}
	return h
}

// restore removes what the engines left that was not there before (now
// is a snapshot taken after the tests) and returns what it could not
// remove or should not have been left (mounts, network devices, runtime
// state of containers).
func (h *hostState) restore(now *hostState) []string {
	var left []string
	// cgroups: deepest first.
	var cgs []string
	for p := range now.cgroups {
		if !h.cgroups[p] {
			cgs = append(cgs, p)
		}
	}
	sort.Slice(cgs, func(i, j int) bool { return len(cgs[i]) > len(cgs[j]) })
	for _, p := range cgs {
		if err := unix.Rmdir(p); err != nil && !os.IsNotExist(err) {
			left = append(left, fmt.Sprintf("cgroup %s: %v", p, err))
		}
	}
	for p := range now.mounts {
		if !h.mounts[p] && engineMount(p) {
			left = append(left, "mount "+p)
		}
	}
	for d := range now.netdevs {
		if !h.netdevs[d] {
			left = append(left, "network device "+d)
		}
	}
	for c := range now.children {
		if !h.paths[filepath.Dir(c)] || h.children[c] {
			continue
		}
		switch filepath.Dir(c) {
		case "/run/kan", "/run/runc", "/run/crun":
			// A runtime's default root is shared with whatever else
			// runs on the host: only the state of an engine's
			// container (a 64-hex id) is ours, and left there, the
			// runtime did not delete it when the engine removed it.
			if engineID.MatchString(filepath.Base(c)) {
				left = append(left, "left behind: "+c)
				os.RemoveAll(c)
			}
		case "/run/netns":
			left = append(left, "left behind: "+c)
		default:
			os.RemoveAll(c)
		}
	}
	for p := range now.paths {
		if !h.paths[p] {
			if err := os.RemoveAll(p); err != nil {
				left = append(left, fmt.Sprintf("%s: %v", p, err))
			}
		}
	}
	sort.Strings(left)
	return left
}

func engineMount(p string) bool {
	if work != "" && strings.HasPrefix(p, work) {
		return true
	}
	for _, e := range enginePaths {
		if strings.HasPrefix(p, e+"/") || p == e {
			return true
		}
	}
	return false
}

// unmountUnder lazily unmounts every mount under dir, deepest first (a
// daemon killed mid-way may leave overlay or shm mounts).
func unmountUnder(dir string) {
	var mnts []string
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mnts = append(mnts, fields[4])
		}
	}
	f.Close()
	sort.Slice(mnts, func(i, j int) bool { return len(mnts[i]) > len(mnts[j]) })
	for _, m := range mnts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// writeDockerArchive makes a one-layer image in the docker-archive format
// (what docker save writes and ctr image import reads) from a rootfs tar.
func writeDockerArchive(layer, out, ref string, cmd ...string) error {
	lf, err := os.Open(layer)
	if err != nil {
		return err
	}
	defer lf.Close()
	hash := sha256.New()
	size, err := io.Copy(hash, lf)
	if err != nil {
		return err
	}
	diffID := "sha256:" + hex.EncodeToString(hash.Sum(nil))
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"Cmd": cmd,
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	manifest, _ := json.Marshal([]map[string]any{{
		"Config":   "config.json",
		"RepoTags": []string{ref},
		"Layers":   []string{"layer.tar"},
	}})
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {"config.json", config}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "layer.tar", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := lf.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(tw, lf); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
