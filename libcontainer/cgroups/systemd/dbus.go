package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// Timeout bounds each conversation with systemd: connecting, a call, and
// the job it starts. runc waits 30 s for a job too. KAN_SYSTEMD_TIMEOUT
// (a Go duration) changes it, for a host where systemd is slow on purpose
// and for the tests of a systemd that does not answer.
var Timeout = timeoutFromEnv()

func timeoutFromEnv() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("KAN_SYSTEMD_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// Conn is a connection to systemd's manager.
type Conn struct {
	c *sd.Conn
	// cancel ends the context the connection was made with: godbus
	// closes the connection when it ends, so it lives as long as Conn.
	cancel context.CancelFunc
}

// Connect reaches systemd over the system bus, or for root its private
// socket when the bus is not there (go-systemd's order, as in runc),
// within Timeout.
func Connect() (*Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		c   *sd.Conn
		err error
	}
	// go-systemd's dial honours the context only in parts (the auth
	// handshake reads without a deadline): wait in a goroutine.
	done := make(chan result, 1)
	go func() {
		c, err := sd.NewWithContext(ctx)
		done <- result{c, err}
	}()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("--systemd-cgroup: cannot reach systemd over D-Bus (is systemd PID 1, with the system bus or /run/systemd/private?): %w", r.err)
		}
		return &Conn{r.c, cancel}, nil
	case <-timer.C:
		cancel()
		return nil, fmt.Errorf("--systemd-cgroup: systemd did not answer on D-Bus within %s", Timeout)
	}
}

// Close ends the connection.
func (c *Conn) Close() {
	if c != nil {
		c.c.Close()
		c.cancel()
	}
}

// Start makes the transient unit u, with the processes pids (none for a
// slice) and the properties props, and waits for systemd's job to be
// done. A unit of that name that exists already is refused, unless it is
// a failed or inactive leftover (a container OOM-killed, say): that one is
// reset and the start tried once more, as runc does.
func (c *Conn) Start(u Unit, id string, pids []uint32, props []sd.Property) error {
	all := []sd.Property{
		sd.PropDescription("kan container " + id),
		// Not stopped by systemd's ordering at shutdown or isolate: the
		// container belongs to its engine (runc sets the same).
		newProp("DefaultDependencies", false),
		newProp("MemoryAccounting", true),
		newProp("CPUAccounting", true),
		newProp("IOAccounting", true),
		newProp("TasksAccounting", true),
	}
	if u.IsSlice() {
		all = append(all, sd.PropWants(u.Slice))
	} else {
		all = append(all, sd.PropSlice(u.Slice), newProp("Delegate", true), sd.PropPids(pids...))
	}
	all = append(all, props...)
	err := c.startOnce(u.Name, all)
	if isDBusError(err, "org.freedesktop.systemd1.UnitExists") {
		state, _ := c.activeState(u.Name)
		if state != "failed" && state != "inactive" {
			return fmt.Errorf("--systemd-cgroup: unit %s already exists (%s): another container has it", u.Name, state)
		}
		c.ResetFailed(u.Name)
		err = c.startOnce(u.Name, all)
	}
	if err != nil {
		return fmt.Errorf("--systemd-cgroup: start unit %s: %w", u.Name, err)
	}
	return nil
}

func (c *Conn) startOnce(name string, props []sd.Property) error {
	return c.job(name, "start", func(ctx context.Context, ch chan<- string) error {
		_, err := c.c.StartTransientUnitContext(ctx, name, "replace", props, ch)
		return err
	})
}

// job runs a call that starts a systemd job and waits, within Timeout,
// for the job's result.
func (c *Conn) job(name, what string, call func(context.Context, chan<- string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ch := make(chan string, 1)
	if err := call(ctx, ch); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("systemd did not answer within %s", Timeout)
		}
		return err
	}
	select {
	case result := <-ch:
		if result != "done" {
			return fmt.Errorf("systemd's %s job for %s ended %q (journalctl -u %s says why)", what, name, result, name)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd's %s job for %s did not finish within %s", what, name, Timeout)
	}
}

// Set changes properties of a running unit (update): runtime only, as
// the unit itself lives only until the container is deleted.
func (c *Conn) Set(name string, props []sd.Property) error {
	if len(props) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.c.SetUnitPropertiesContext(ctx, name, true, props...); err != nil {
		return fmt.Errorf("systemd: set the properties of %s: %w", name, err)
	}
	return nil
}

// Stop stops the unit and waits for it; a unit systemd no longer has (it
// collects a scope whose processes are gone) is already stopped. It then
// resets a failed unit, so that failed scopes (an OOM kill fails one) do
// not pile up in systemd.
func (c *Conn) Stop(name string) error {
	err := c.job(name, "stop", func(ctx context.Context, ch chan<- string) error {
		_, err := c.c.StopUnitContext(ctx, name, "replace", ch)
		return err
	})
	if isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
		err = nil
	}
	c.ResetFailed(name)
	if err != nil {
		return fmt.Errorf("--systemd-cgroup: stop unit %s: %w", name, err)
	}
	return nil
}

// ResetFailed clears a failed unit; one that is not failed, or gone, is
// left as it is.
func (c *Conn) ResetFailed(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c.c.ResetFailedUnitContext(ctx, name)
}

func (c *Conn) activeState(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	p, err := c.c.GetUnitPropertyContext(ctx, name, "ActiveState")
	if err != nil {
		return "", err
	}
	s, _ := p.Value.Value().(string)
	return s, nil
}

func newProp(name string, v any) sd.Property {
	return sd.Property{Name: name, Value: godbus.MakeVariant(v)}
}

func isDBusError(err error, name string) bool {
	var e godbus.Error
	var pe *godbus.Error
	switch {
	case errors.As(err, &e):
		return e.Name == name
	case errors.As(err, &pe):
		return pe.Name == name
	}
	return false
}
