package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/console"
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

// newSeccompListener is the listener of filter sc, one that notifies
// (SCMP_ACT_NOTIFY): linux.seccomp.listenerPath, which the config's check
// made sure is set.
func newSeccompListener(sc *config.Seccomp, state func(pid int) specs.State) (*seccompListener, error) {
	profile, err := sc.Profile()
	if err != nil {
		return nil, err
	}
	return &seccompListener{path: profile.ListenerPath, metadata: profile.ListenerMetadata, state: state}, nil
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
	// The same dial and send as the console and pidfd sockets'.
	sock, err := console.DialFor("linux.seccomp.listenerPath", l.path)
	if err != nil {
		return fmt.Errorf("connect to the seccomp agent: %w", err)
	}
	defer sock.Close()
	if err := console.SendFd(sock, string(msg), fd); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: send the listener fd: %w", l.path, err)
	}
	return nil
}
