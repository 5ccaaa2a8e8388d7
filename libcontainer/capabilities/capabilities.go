// Package capabilities sets the five capability sets of the container
// process (bounding, effective, permitted, inheritable, ambient) from
// process.capabilities.
//
// Capability sets belong to a thread: Apply must run on the locked OS
// thread that will execve the container's program.
package capabilities

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// byName maps "CAP_CHOWN" to its number, for every capability this library
// knows. Capabilities the running kernel lacks are ignored on apply, as the
// spec asks.
func byName() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
}

// Set is a parsed process.capabilities.
type Set struct {
	Bounding, Effective, Permitted, Inheritable, Ambient []capability.Cap
}

// Parse resolves the names of every set; an unknown name is an error
// naming the set.
func Parse(c *specs.LinuxCapabilities) (*Set, error) {
	s := &Set{}
	if c == nil {
		return s, nil
	}
	names := byName()
	last, err := capability.LastCap()
	if err != nil {
		return nil, fmt.Errorf("find the kernel's last capability: %w", err)
	}
	conv := func(set string, in []string) ([]capability.Cap, error) {
		var out []capability.Cap
		for _, n := range in {
			c, ok := names[strings.ToUpper(n)]
			if !ok {
				return nil, fmt.Errorf("process.capabilities.%s: unknown capability %q", set, n)
			}
			if c <= last {
				out = append(out, c)
			}
		}
		return out, nil
	}
	if s.Bounding, err = conv("bounding", c.Bounding); err != nil {
		return nil, err
	}
	if s.Effective, err = conv("effective", c.Effective); err != nil {
		return nil, err
	}
	if s.Permitted, err = conv("permitted", c.Permitted); err != nil {
		return nil, err
	}
	if s.Inheritable, err = conv("inheritable", c.Inheritable); err != nil {
		return nil, err
	}
	if s.Ambient, err = conv("ambient", c.Ambient); err != nil {
		return nil, err
	}
	return s, nil
}

// outsideBounding names the first capability of the permitted, effective
// or inheritable set that the bounding set lacks: kan itself may run
// without some (a container runtime nested in a restricted environment),
// and the kernel refuses to raise those.
func (s *Set) outsideBounding() string {
	now, err := capability.NewPid2(0)
	if err != nil || now.Load() != nil {
		return ""
	}
	for _, set := range []struct {
		name string
		caps []capability.Cap
	}{{"permitted", s.Permitted}, {"effective", s.Effective}, {"inheritable", s.Inheritable}} {
		for _, c := range set.caps {
			if !now.Get(capability.BOUNDING, c) {
				return fmt.Sprintf("process.capabilities.%s: CAP_%s", set.name, strings.ToUpper(c.String()))
			}
		}
	}
	return ""
}

// DropUngrantable removes from every set the capabilities outside the
// bounding set this process runs with: no process it starts can get them
// (kan nested in a restricted environment). The spec asks runtimes to log
// those and carry on rather than fail; it returns their names for that.
func (s *Set) DropUngrantable() ([]string, error) {
	now, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	if err := now.Load(); err != nil {
		return nil, err
	}
	var dropped []string
	keep := func(in []capability.Cap) []capability.Cap {
		return slices.DeleteFunc(in, func(c capability.Cap) bool {
			if now.Get(capability.BOUNDING, c) {
				return false
			}
			name := "CAP_" + strings.ToUpper(c.String())
			if !slices.Contains(dropped, name) {
				dropped = append(dropped, name)
			}
			return true
		})
	}
	s.Bounding, s.Effective, s.Permitted = keep(s.Bounding), keep(s.Effective), keep(s.Permitted)
	s.Inheritable, s.Ambient = keep(s.Inheritable), keep(s.Ambient)
	return dropped, nil
}

// RaisableAmbient is the part of the ambient set the kernel lets a process
// raise: capabilities that are both permitted and inheritable. Like runc,
// kan raises those and leaves the rest out (Create logs a warning), since
// configs such as `runc spec`'s list ambient capabilities without
// inheritable ones.
func (s *Set) RaisableAmbient() []capability.Cap {
	var out []capability.Cap
	for _, c := range s.Ambient {
		if slices.Contains(s.Permitted, c) && slices.Contains(s.Inheritable, c) {
			out = append(out, c)
		}
	}
	return out
}

// Masks are the five sets as bit masks (bit n: capability n), for a
// process that sets them with capset(2) and prctl(2) itself: the ambient
// mask holds only what RaisableAmbient allows. last is the kernel's last
// capability, the highest bit the bounding set is dropped up to.
func (s *Set) Masks() (bounding, effective, permitted, inheritable, ambient uint64, last uint32, err error) {
	l, err := capability.LastCap()
	if err != nil {
		return 0, 0, 0, 0, 0, 0, fmt.Errorf("find the kernel's last capability: %w", err)
	}
	mask := func(caps []capability.Cap) uint64 {
		var m uint64
		for _, c := range caps {
			m |= 1 << uint(c)
		}
		return m
	}
	return mask(s.Bounding), mask(s.Effective), mask(s.Permitted), mask(s.Inheritable), mask(s.RaisableAmbient()), uint32(l), nil
}

// HaveOnHost tells whether this process holds capability c over the host:
// in its effective set, and not merely as root of a user namespace (the
// kernel checks limits such as rlimits against the host's namespace).
func HaveOnHost(c capability.Cap, inUserNS bool) bool {
	if inUserNS {
		return false
	}
	now, err := capability.NewPid2(0)
	if err != nil || now.Load() != nil {
		return false
	}
	return now.Get(capability.EFFECTIVE, c)
}
