// Package config is kan's model of a container and of its process: an OCI
// config decoded and checked once, at the door (New for create and run,
// NewProcess for exec), into what the rest of libcontainer reads. Every
// check of a config that does not depend on the state of the container
// runs here — runtime-spec's rules (spec.Validate), what this kan does not
// support, the LSMs, the capabilities kan can grant, root.path — and the
// process fields become the numbers the applier carries out. A field of
// runtime-spec is either carried into the model or refused here: the
// guard tests (config_test.go) fail on one that is neither.
//
// The model keeps runtime-spec's own types where kan acts on them as they
// are (mounts, devices, resources, hooks): the kernel mechanisms take
// them. What the state keeps of a config is here too (Record): the bytes
// of config.json as read, for `kan state` and later commands.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/lsm"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/state"
	"github.com/kan-runtime/kan/spec"
)

// Container is kan's model of a container.
type Container struct {
	Bundle   string // absolute
	Rootfs   string // root.path, absolute: a directory, not the host's /
	Readonly bool   // root.readonly

	Hostname, Domainname string
	Annotations          map[string]string
	Mounts               []specs.Mount
	Hooks                *specs.Hooks // nil: none
	Process              *Process

	Namespaces               []specs.LinuxNamespace
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	TimeOffsets              map[string]specs.LinuxTimeOffset
	Sysctl                   map[string]string
	CgroupsPath              string
	Resources                *specs.LinuxResources // nil: none
	Devices                  []specs.LinuxDevice
	NetDevices               map[string]specs.LinuxNetDevice
	RootfsPropagation        string
	MaskedPaths              []string
	ReadonlyPaths            []string
	MountLabel               string
	Seccomp                  *Seccomp // nil: no filter

	// Record is what the state keeps of the config.
	Record Record
}

// Record is what a container's state keeps of its config: the config, as
// read when there are its bytes (encoding a specs.Spec anew would build
// encoding/json's encoders for every type it reaches, a millisecond or
// two of create), its resources and its hooks.
type Record struct {
	Config    *state.Lazy[specs.Spec]
	Resources *state.Lazy[specs.LinuxResources]
	Hooks     *state.Lazy[specs.Hooks]
}

// Seccomp is a config's linux.seccomp: its JSON, by which compiled filters
// are cached, and the profile decoded from that JSON only when asked for.
type Seccomp struct {
	JSON    json.RawMessage
	profile func() (*specs.LinuxSeccomp, error)
}

// NewSeccomp is the linux.seccomp of JSON raw (nil for none), decoded only
// when Profile is called; what names the config in errors.
func NewSeccomp(raw json.RawMessage, what string) *Seccomp {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return &Seccomp{JSON: raw, profile: sync.OnceValues(func() (*specs.LinuxSeccomp, error) {
		return spec.ParseSeccomp(what, raw)
	})}
}

// Profile is the seccomp profile. A Seccomp made of its JSON alone, not
// by NewSeccomp, has none.
func (s *Seccomp) Profile() (*specs.LinuxSeccomp, error) {
	if s.profile == nil {
		return nil, errors.New("linux.seccomp: the profile was not read")
	}
	return s.profile()
}

// New checks config f of the bundle in directory bundle (absolute) and
// gives kan's model of it. f.Raw, when not nil, is the JSON f.Spec was
// decoded from, kept as it is by the state.
func New(f *spec.Config, bundle string) (*Container, error) {
	s := f.Spec
	if err := spec.Validate(s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	if err := checkSupported(s); err != nil {
		return nil, err
	}
	l := s.Linux
	if err := lsm.Check("", "", l.MountLabel); err != nil {
		return nil, err
	}
	rootfs, err := rootPath(s.Root.Path, bundle)
	if err != nil {
		return nil, err
	}
	proc, err := newProcess(s.Process, l)
	if err != nil {
		return nil, err
	}
	c := &Container{
		Bundle: bundle, Rootfs: rootfs, Readonly: s.Root.Readonly,
		Hostname: s.Hostname, Domainname: s.Domainname, Annotations: s.Annotations,
		Mounts: s.Mounts, Hooks: s.Hooks, Process: proc,
		Namespaces: l.Namespaces, UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings,
		TimeOffsets: l.TimeOffsets, Sysctl: l.Sysctl, CgroupsPath: l.CgroupsPath,
		Resources: l.Resources, Devices: l.Devices, NetDevices: l.NetDevices,
		RootfsPropagation: l.RootfsPropagation, MaskedPaths: l.MaskedPaths,
		ReadonlyPaths: l.ReadonlyPaths, MountLabel: l.MountLabel,
	}
	if err := c.record(f); err != nil {
		return nil, err
	}
	return c, nil
}

// record fills in c.Record and c.Seccomp: from the bytes of the config
// and the sections spec.Decode kept as written, when there are, so that
// what is saved and compiled is the config as read.
func (c *Container) record(f *spec.Config) error {
	s := f.Spec
	if f.Seccomp != nil {
		c.Seccomp = NewSeccomp(f.Seccomp, filepath.Join(c.Bundle, "config.json"))
	} else if s.Linux.Seccomp != nil {
		j, err := json.Marshal(s.Linux.Seccomp)
		if err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
		c.Seccomp = NewSeccomp(j, "the config")
	}
	// The hooks as the config was decoded (a key given twice merges),
	// which is what create runs; they are small to encode.
	c.Record = Record{Hooks: state.LazyOf(s.Hooks)}
	if f.Raw != nil {
		c.Record.Config = state.LazyRaw[specs.Spec](f.Raw)
		c.Record.Resources = state.LazyRaw[specs.LinuxResources](f.Resources)
		return nil
	}
	c.Record.Resources = state.LazyOf(s.Linux.Resources)
	if c.Seccomp != nil && s.Linux.Seccomp == nil {
		// The config saved must hold the filter its execs get.
		p, err := c.Seccomp.Profile()
		if err != nil {
			return err
		}
		l := *s.Linux
		l.Seccomp = p
		t := *s
		t.Linux = &l
		s = &t
	}
	c.Record.Config = state.LazyOf(s)
	return nil
}

// checkSupported refuses configs that ask for something this version of
// kan does not do, naming the field: a container must never run with a
// setting silently dropped.
func checkSupported(s *specs.Spec) error {
	l := s.Linux
	if _, ok := namespaces.Find(l.Namespaces, specs.MountNamespace); !ok {
		return fmt.Errorf("linux.namespaces: kan needs a mount namespace (type %q)", specs.MountNamespace)
	}
	if l.IntelRdt != nil {
		if mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("resctrl")); err != nil || len(mounts) == 0 {
			return errors.New("linux.intelRdt: this host has no resctrl filesystem mounted (no Intel RDT / AMD QoS)")
		}
		return errors.New("linux.intelRdt: not supported by this version of kan")
	}
	return nil
}

// rootPath is root.path made absolute (relative to the bundle), checked
// to be a directory that is not the host's root.
func rootPath(path, bundle string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return "", fmt.Errorf("root.path %s: %w", path, err)
	}
	// The host's own root is no container root: pivot_root would fail
	// half-way, and binds and masks would land on the host.
	if real, err := filepath.EvalSymlinks(path); err == nil && real == "/" {
		return "", fmt.Errorf("root.path %s: is the host's root directory /", path)
	}
	return path, nil
}

// HasNamespace says whether the container has a namespace of type t, new
// or joined.
func (c *Container) HasNamespace(t specs.LinuxNamespaceType) bool {
	_, ok := namespaces.Find(c.Namespaces, t)
	return ok
}

// CreateHooks says whether any hook runs during create.
func (c *Container) CreateHooks() bool {
	h := c.Hooks
	return h != nil && len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) > 0
}
