// Package rootless tells whether kan runs without privilege over the
// host — as an ordinary user, or as root of a user namespace, as under
// rootless Podman — and what such a kan can do on this host. The things
// done the rootless way (id maps through newuidmap, no device filter,
// containers without a cgroup) are done where they belong; this package
// only decides and describes.
package rootless

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Is resolves --rootless: a value given (true or false) is taken as
// it is; auto (nil) means rootless when kan is not root, or is root only
// of a user namespace (runc decides the same way).
func Is(flag *bool) bool {
	if flag != nil {
		return *flag
	}
	return os.Geteuid() != 0 || InUserNS()
}

// InUserNS tells whether this process is in a user namespace other than
// the host's: the host's maps every id to itself in one line.
func InUserNS() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// A Range is a subordinate id range of /etc/subuid or /etc/subgid.
type Range struct {
	Start, Count uint64
}

// SubIDs reads the ranges file (/etc/subuid or /etc/subgid) grants the
// user of name or uid id.
func SubIDs(file, name string, id int) []Range {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []Range
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.Itoa(id)) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && count > 0 {
			out = append(out, Range{start, count})
		}
	}
	return out
}

// UserNSAllowed tells whether an unprivileged user may create a user
// namespace here (Debian's kernel.unprivileged_userns_clone, and the
// limit of user.max_user_namespaces).
func UserNSAllowed() bool {
	if v, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(v)) == "0" {
		return false
	}
	v, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	return err != nil || strings.TrimSpace(string(v)) != "0"
}

// MapTool returns the path of newuidmap (uid) or newgidmap, which map an
// unprivileged user's subordinate ranges, or "" when it is not installed.
func MapTool(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
