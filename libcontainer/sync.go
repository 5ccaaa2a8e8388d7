package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// message is one line of the sync protocol between kan and `kan init`. The
// nsenter stage speaks it too (in C), which is why it is plain JSON lines.
type message struct {
	Type   string      `json:"type"`
	Pid    int         `json:"pid,omitempty"`
	Msg    string      `json:"msg,omitempty"`
	Config *initConfig `json:"config,omitempty"`
	// State is the container's state JSON, for the hooks the init runs.
	State json.RawMessage `json:"state,omitempty"`
}

// Message types.
const (
	msgUserns     = "userns"      // init → kan: write my id maps
	msgUsernsDone = "userns-done" // kan → init
	msgPid        = "pid"         // init → kan: this pid runs the container
	msgConfig     = "config"      // kan → init: what to build
	msgHooks      = "hooks"       // init → kan: run prestart and createRuntime hooks now
	msgHooksDone  = "hooks-done"  // kan → init, with the state for createContainer
	msgReady      = "ready"       // init → kan: created, waiting for start
	msgError      = "error"       // init → kan: failed, with the reason
)

type syncConn struct {
	f *os.File
	r *bufio.Reader
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, r: bufio.NewReaderSize(f, 64<<10)}
}

func (s *syncConn) send(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.f.Write(append(data, '\n'))
	return err
}

// recv reads the next message; io.EOF means the other side is gone.
func (s *syncConn) recv() (message, error) {
	var m message
	line, err := s.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return m, io.EOF
		}
		return m, err
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("bad sync message %q: %w", line, err)
	}
	return m, nil
}

func (s *syncConn) Close() error { return s.f.Close() }
