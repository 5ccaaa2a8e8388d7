package namespaces

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NewUserNS returns a handle on a new user namespace with the given id
// maps and no process in it, as an idmapped mount needs one (a mount's
// own uidMappings/gidMappings). A user namespace lives only as long as a
// process or a handle holds it, so a child is created in it, stopped by
// ptrace right at its execve (before it runs any code), held just long
// enough to open /proc/<pid>/ns/user, and killed.
func NewUserNS(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("new user namespace: %w", err)
	}
	toSys := func(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
		var out []syscall.SysProcIDMap
		for _, m := range ms {
			out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		return out
	}
	// A traced child belongs to the thread that started it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{"kan-userns-holder"},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: toSys(uids),
			GidMappings: toSys(gids),
			Ptrace:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("new user namespace: %w", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		return nil, fmt.Errorf("new user namespace: %w", err)
	}
	return f, nil
}
