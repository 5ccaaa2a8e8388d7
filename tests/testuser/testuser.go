// Package testuser makes, for tests run as root, an ordinary user with
// subordinate id ranges, and runs commands as that user: what the rootless
// tests of tests/integration and tests/sysvm need.
package testuser

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A User is an ordinary user a test made: no privilege, a home, ranges in
// /etc/subuid and /etc/subgid, and a runtime directory of its own.
type User struct {
	Name     string
	UID, GID int
	// SubUID and SubGID are the first ids of its subordinate ranges, of
	// SubCount ids each.
	SubUID, SubGID, SubCount int
	// RuntimeDir is its XDG_RUNTIME_DIR (mode 0700, its own).
	RuntimeDir string
}

// Create adds user name with 65536 subordinate uids and gids (useradd
// gives them where login.defs says so; otherwise they are added after the
// highest range in the files) and a runtime directory under runtimeParent.
func Create(name, runtimeParent string) (*User, error) {
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("useradd %s: %v: %s", name, err, out)
	}
	u := &User{Name: name, SubCount: 65536}
	ok := false
	defer func() {
		if !ok {
			u.Remove()
		}
	}()
	pu, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	u.UID, _ = strconv.Atoi(pu.Uid)
	u.GID, _ = strconv.Atoi(pu.Gid)
	if u.SubUID, err = subRange("/etc/subuid", name, "--add-subuids"); err != nil {
		return nil, err
	}
	if u.SubGID, err = subRange("/etc/subgid", name, "--add-subgids"); err != nil {
		return nil, err
	}
	u.RuntimeDir = filepath.Join(runtimeParent, "run-"+name)
	if err := os.MkdirAll(u.RuntimeDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(u.RuntimeDir, u.UID, u.GID); err != nil {
		return nil, err
	}
	ok = true
	return u, nil
}

// subRange returns the start of name's range of 65536 ids in file, adding
// one (usermod flag) after every other range when there is none.
func subRange(file, name, flag string) (int, error) {
	start, top := -1, 100000
	data, _ := os.ReadFile(file)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 3 {
			continue
		}
		s, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == name && n >= 65536 {
			start = s
		}
		top = max(top, s+n)
	}
	if start >= 0 {
		return start, nil
	}
	r := fmt.Sprintf("%d-%d", top, top+65535)
	if out, err := exec.Command("usermod", flag, r, name).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("usermod %s %s: %v: %s", flag, r, err, out)
	}
	return top, nil
}

// Remove deletes the user, its home, its ranges and its runtime
// directory, after killing whatever still runs as it.
func (u *User) Remove() {
	if u.UID > 0 {
		exec.Command("pkill", "-KILL", "-U", strconv.Itoa(u.UID)).Run()
	}
	if u.RuntimeDir != "" {
		os.RemoveAll(u.RuntimeDir)
	}
	exec.Command("userdel", "--remove", u.Name).Run()
}

// Command runs path as the user, with no supplementary group but its own,
// HOME, USER, PATH and XDG_RUNTIME_DIR set and nothing else.
func (u *User) Command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{uint32(u.GID)}}}
	cmd.Env = []string{
		"HOME=/home/" + u.Name, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"XDG_RUNTIME_DIR=" + u.RuntimeDir,
	}
	cmd.Dir = "/"
	return cmd
}
