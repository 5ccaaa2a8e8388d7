package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompListener is where the listener fd of a SCMP_ACT_NOTIFY filter
// goes, as runc sends it: to the agent listening on the unix socket
// linux.seccomp.listenerPath, in one message whose data is the
// specs.ContainerProcessState (the container's state, the process's pid,
// linux.seccomp.listenerMetadata, and the name of the fd) and whose
// ancillary data is the fd.
type seccompListener struct {
	path     string
	metadata string
	state    func(pid int) specs.State
}

// newSeccompListener is the listener of profile, nil when it has none.
func newSeccompListener(profile *specs.LinuxSeccomp, state func(pid int) specs.State) *seccompListener {
	if profile == nil || profile.ListenerPath == "" {
		return nil
	}
	return &seccompListener{path: profile.ListenerPath, metadata: profile.ListenerMetadata, state: state}
}

// send gives the agent fd, the listener of the process pid.
func (l *seccompListener) send(fd *os.File, pid int) error {
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: l.metadata,
		State:    l.state(pid),
	})
	if err != nil {
		return err
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", l.path, err)
	}
	defer unix.Close(sock)
	if err := unix.Connect(sock, &unix.SockaddrUnix{Name: l.path}); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: connect to the seccomp agent: %w", l.path, err)
	}
	if err := unix.Sendmsg(sock, msg, unix.UnixRights(int(fd.Fd())), nil, 0); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: send the listener fd: %w", l.path, err)
	}
	return nil
}
