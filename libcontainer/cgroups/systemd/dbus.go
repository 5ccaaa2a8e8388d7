package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	return connect(sd.NewWithContext, "is systemd PID 1, with the system bus or /run/systemd/private?")
}

// ConnectUser reaches the user's own systemd instance (user@UID.service)
// over the user's session bus, for a rootless kan, as runc's rootless
// systemd driver does: the bus at $DBUS_SESSION_BUS_ADDRESS, else
// $XDG_RUNTIME_DIR/bus; the EXTERNAL authentication names the user's uid
// on the host, which is not kan's own uid when kan runs as root of a user
// namespace (rootless Podman runs its runtime so).
func ConnectUser() (*Conn, error) {
	addr, err := userBusAddress(os.Getenv)
	if err != nil {
		return nil, err
	}
	map_, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return nil, fmt.Errorf("--systemd-cgroup: read /proc/self/uid_map: %w", err)
	}
	uid, ok := HostUID(string(map_), os.Getuid())
	if !ok {
		return nil, fmt.Errorf("--systemd-cgroup: uid %d is not mapped in /proc/self/uid_map", os.Getuid())
	}
	dial := func(ctx context.Context) (*sd.Conn, error) {
		return sd.NewConnection(func() (*godbus.Conn, error) {
			c, err := godbus.Dial(addr, godbus.WithContext(ctx))
			if err != nil {
				return nil, err
			}
			if err := c.Auth([]godbus.Auth{godbus.AuthExternal(strconv.Itoa(uid))}); err != nil {
				c.Close()
				return nil, err
			}
			if err := c.Hello(); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		})
	}
	return connect(dial, "does the user's systemd instance run, with its bus at "+addr+"? loginctl enable-linger starts it")
}

// userBusAddress is the user's session bus: $DBUS_SESSION_BUS_ADDRESS,
// else the socket systemd's user instance makes at $XDG_RUNTIME_DIR/bus.
func userBusAddress(getenv func(string) string) (string, error) {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		bus := filepath.Join(dir, "bus")
		if _, err := os.Stat(bus); err == nil {
			return "unix:path=" + bus, nil
		}
		return "", fmt.Errorf("--systemd-cgroup: kan runs rootless, and the user's systemd instance is reached over the session bus: $DBUS_SESSION_BUS_ADDRESS is not set and there is no %s (is the user logged in, or lingering: loginctl enable-linger?)", bus)
	}
	return "", errors.New("--systemd-cgroup: kan runs rootless, and the user's systemd instance is reached over the session bus: neither $DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR is set")
}

// HostUID maps uid through a uid_map's lines ("inside outside count"):
// the uid the host, and so the bus daemon, knows the process by.
func HostUID(uidMap string, uid int) (int, bool) {
	for _, l := range strings.Split(uidMap, "\n") {
		var in, out, n int
		if c, _ := fmt.Sscan(l, &in, &out, &n); c == 3 && uid >= in && uid-in < n {
			return out + uid - in, true
		}
	}
	return 0, false
}

func connect(dial func(context.Context) (*sd.Conn, error), hint string) (*Conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		c   *sd.Conn
		err error
	}
	// go-systemd's dial honours the context only in parts (the auth
	// handshake reads without a deadline): wait in a goroutine.
	done := make(chan result, 1)
	go func() {
		c, err := dial(ctx)
		done <- result{c, err}
	}()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("--systemd-cgroup: cannot reach systemd over D-Bus (%s): %w", hint, r.err)
		}
		return &Conn{r.c, cancel}, nil
	case <-timer.C:
		cancel()
		return nil, fmt.Errorf("--systemd-cgroup: systemd did not answer on D-Bus within %s", Timeout)
	}
}

// ControlGroup is the cgroup of the manager itself, relative to the
// cgroup2 mount: "/user.slice/user-1000.slice/user@1000.service" for a
// user's instance, under which its slices and units are.
func (c *Conn) ControlGroup() (string, error) {
	v, err := c.c.GetManagerProperty("ControlGroup")
	if err != nil {
		return "", fmt.Errorf("--systemd-cgroup: systemd's ControlGroup: %w", err)
	}
	if s, err := strconv.Unquote(v); err == nil {
		v = s
	}
	return v, nil
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
