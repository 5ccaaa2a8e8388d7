package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/jsonfast"
)

// decodeFast decodes the configs engines and people write into d without
// encoding/json, whose first decode in a process builds a field table by
// reflection for every type it reaches: most of the cost of reading a
// config, in every create. It handles the common fields, exactly named,
// each once, with plain strings and integers; on anything else (another
// field, an escape, a fraction, a duplicate key, a type or syntax error)
// it returns false, and Decode decodes with encoding/json instead, whose
// result and errors stay the reference. What it does decode, it decodes
// as encoding/json would, to the byte (FuzzDecodeFast): "[]" is an empty
// slice and null a nil one, and linux.seccomp and linux.resources keep
// the value's JSON as written.
func decodeFast(data []byte, d *document) bool {
	r := reader{jsonfast.NewReader(data)}
	return r.Object(func(key string) bool { return r.document(key, d) }) && r.End()
}

// reader reads the types of a config, a method each. A key not among a
// type's fields is left to encoding/json, which may match it to a field
// regardless of case.
type reader struct{ *jsonfast.Reader }

// Shorthands of jsonfast's generic setters for this reader.
func (r reader) uint32(p *uint32) bool     { return jsonfast.SetUint(r.Reader, p) }
func (r reader) uint64(p *uint64) bool     { return jsonfast.SetUint(r.Reader, p) }
func (r reader) int64(p *int64) bool       { return jsonfast.SetInt(r.Reader, p) }
func (r reader) int64Ptr(p **int64) bool   { return jsonfast.SetIntPtr(r.Reader, p) }
func (r reader) uint64Ptr(p **uint64) bool { return jsonfast.SetUintPtr(r.Reader, p) }

func (r reader) document(key string, d *document) bool {
	switch key {
	case "ociVersion":
		return r.SetString(&d.Version)
	case "process":
		return jsonfast.SetPtr(r.Reader, &d.Process, r.process)
	case "root":
		return jsonfast.SetPtr(r.Reader, &d.Root, r.root)
	case "hostname":
		return r.SetString(&d.Hostname)
	case "domainname":
		return r.SetString(&d.Domainname)
	case "mounts":
		return jsonfast.SetSlice(r.Reader, &d.Mounts, r.mount)
	case "hooks":
		return jsonfast.SetPtr(r.Reader, &d.Hooks, r.hooks)
	case "annotations":
		return r.SetStringMap(&d.Annotations)
	case "linux":
		return jsonfast.SetPtr(r.Reader, &d.Linux, r.linux)
	}
	return false
}

func (r reader) root(root *specs.Root) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "path":
			return r.SetString(&root.Path)
		case "readonly":
			return r.SetBool(&root.Readonly)
		}
		return false
	})
}

func (r reader) process(p *specs.Process) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "terminal":
			return r.SetBool(&p.Terminal)
		case "consoleSize":
			return jsonfast.SetPtr(r.Reader, &p.ConsoleSize, r.box)
		case "user":
			if r.Literal("null") {
				return true // a struct, not a pointer: left as it is
			}
			return r.user(&p.User)
		case "args":
			return r.SetStrings(&p.Args)
		case "commandLine":
			return r.SetString(&p.CommandLine)
		case "env":
			return r.SetStrings(&p.Env)
		case "cwd":
			return r.SetString(&p.Cwd)
		case "capabilities":
			return jsonfast.SetPtr(r.Reader, &p.Capabilities, r.capabilities)
		case "rlimits":
			return jsonfast.SetSlice(r.Reader, &p.Rlimits, r.rlimit)
		case "noNewPrivileges":
			return r.SetBool(&p.NoNewPrivileges)
		case "apparmorProfile":
			return r.SetString(&p.ApparmorProfile)
		case "oomScoreAdj":
			return jsonfast.SetIntPtr(r.Reader, &p.OOMScoreAdj)
		case "selinuxLabel":
			return r.SetString(&p.SelinuxLabel)
		}
		return false
	})
}

func (r reader) box(b *specs.Box) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "height":
			return jsonfast.SetUint(r.Reader, &b.Height)
		case "width":
			return jsonfast.SetUint(r.Reader, &b.Width)
		}
		return false
	})
}

func (r reader) capabilities(c *specs.LinuxCapabilities) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "bounding":
			return r.SetStrings(&c.Bounding)
		case "effective":
			return r.SetStrings(&c.Effective)
		case "inheritable":
			return r.SetStrings(&c.Inheritable)
		case "permitted":
			return r.SetStrings(&c.Permitted)
		case "ambient":
			return r.SetStrings(&c.Ambient)
		}
		return false
	})
}

func (r reader) rlimit(l *specs.POSIXRlimit) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "type":
			return r.SetString(&l.Type)
		case "hard":
			return r.uint64(&l.Hard)
		case "soft":
			return r.uint64(&l.Soft)
		}
		return false
	})
}

func (r reader) user(u *specs.User) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "uid":
			return r.uint32(&u.UID)
		case "gid":
			return r.uint32(&u.GID)
		case "umask":
			return jsonfast.SetUintPtr(r.Reader, &u.Umask)
		case "additionalGids":
			// An element null is refused: SetUint would leave it 0.
			return jsonfast.SetSlice(r.Reader, &u.AdditionalGids, func(g *uint32) bool {
				return r.Next() != 'n' && r.uint32(g)
			})
		case "username":
			return r.SetString(&u.Username)
		}
		return false
	})
}

func (r reader) idMapping(m *specs.LinuxIDMapping) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "containerID":
			return r.uint32(&m.ContainerID)
		case "hostID":
			return r.uint32(&m.HostID)
		case "size":
			return r.uint32(&m.Size)
		}
		return false
	})
}

func (r reader) mount(m *specs.Mount) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "destination":
			return r.SetString(&m.Destination)
		case "type":
			return r.SetString(&m.Type)
		case "source":
			return r.SetString(&m.Source)
		case "options":
			return r.SetStrings(&m.Options)
		case "uidMappings":
			return jsonfast.SetSlice(r.Reader, &m.UIDMappings, r.idMapping)
		case "gidMappings":
			return jsonfast.SetSlice(r.Reader, &m.GIDMappings, r.idMapping)
		}
		return false
	})
}

func (r reader) hooks(h *specs.Hooks) bool {
	return r.Object(func(key string) bool {
		var p *[]specs.Hook
		switch key {
		case "prestart":
			p = &h.Prestart
		case "createRuntime":
			p = &h.CreateRuntime
		case "createContainer":
			p = &h.CreateContainer
		case "startContainer":
			p = &h.StartContainer
		case "poststart":
			p = &h.Poststart
		case "poststop":
			p = &h.Poststop
		default:
			return false
		}
		return jsonfast.SetSlice(r.Reader, p, r.hook)
	})
}

func (r reader) hook(h *specs.Hook) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "path":
			return r.SetString(&h.Path)
		case "args":
			return r.SetStrings(&h.Args)
		case "env":
			return r.SetStrings(&h.Env)
		case "timeout":
			return jsonfast.SetIntPtr(r.Reader, &h.Timeout)
		}
		return false
	})
}

func (r reader) linux(l *linuxDocument) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "uidMappings":
			return jsonfast.SetSlice(r.Reader, &l.UIDMappings, r.idMapping)
		case "gidMappings":
			return jsonfast.SetSlice(r.Reader, &l.GIDMappings, r.idMapping)
		case "sysctl":
			return r.SetStringMap(&l.Sysctl)
		case "resources":
			return jsonfast.SetPtr(r.Reader, &l.Resources, func(rd *resourcesDocument) bool {
				start := r.Pos()
				rd.v = new(specs.LinuxResources)
				ok := r.resources(rd.v)
				rd.raw = r.Since(start)
				return ok
			})
		case "cgroupsPath":
			return r.SetString(&l.CgroupsPath)
		case "namespaces":
			return jsonfast.SetSlice(r.Reader, &l.Namespaces, r.namespace)
		case "devices":
			return jsonfast.SetSlice(r.Reader, &l.Devices, r.device)
		case "seccomp":
			raw, ok := r.Raw()
			l.Seccomp = raw
			return ok
		case "rootfsPropagation":
			return r.SetString(&l.RootfsPropagation)
		case "maskedPaths":
			return r.SetStrings(&l.MaskedPaths)
		case "readonlyPaths":
			return r.SetStrings(&l.ReadonlyPaths)
		case "mountLabel":
			return r.SetString(&l.MountLabel)
		}
		return false
	})
}

func (r reader) namespace(ns *specs.LinuxNamespace) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "type":
			t := string(ns.Type)
			ok := r.SetString(&t)
			ns.Type = specs.LinuxNamespaceType(t)
			return ok
		case "path":
			return r.SetString(&ns.Path)
		}
		return false
	})
}

func (r reader) device(d *specs.LinuxDevice) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "path":
			return r.SetString(&d.Path)
		case "type":
			return r.SetString(&d.Type)
		case "major":
			return r.int64(&d.Major)
		case "minor":
			return r.int64(&d.Minor)
		case "fileMode":
			return jsonfast.SetUintPtr(r.Reader, &d.FileMode)
		case "uid":
			return jsonfast.SetUintPtr(r.Reader, &d.UID)
		case "gid":
			return jsonfast.SetUintPtr(r.Reader, &d.GID)
		}
		return false
	})
}

func (r reader) resources(res *specs.LinuxResources) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "devices":
			return jsonfast.SetSlice(r.Reader, &res.Devices, r.deviceCgroup)
		case "memory":
			return jsonfast.SetPtr(r.Reader, &res.Memory, r.memory)
		case "cpu":
			return jsonfast.SetPtr(r.Reader, &res.CPU, r.cpu)
		case "pids":
			return jsonfast.SetPtr(r.Reader, &res.Pids, func(p *specs.LinuxPids) bool {
				return r.Object(func(key string) bool { return key == "limit" && r.int64Ptr(&p.Limit) })
			})
		case "blockIO":
			return jsonfast.SetPtr(r.Reader, &res.BlockIO, r.blockIO)
		case "hugepageLimits":
			return jsonfast.SetSlice(r.Reader, &res.HugepageLimits, r.hugepageLimit)
		case "unified":
			return r.SetStringMap(&res.Unified)
		}
		return false
	})
}

func (r reader) deviceCgroup(d *specs.LinuxDeviceCgroup) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "allow":
			return r.SetBool(&d.Allow)
		case "type":
			return r.SetString(&d.Type)
		case "major":
			return r.int64Ptr(&d.Major)
		case "minor":
			return r.int64Ptr(&d.Minor)
		case "access":
			return r.SetString(&d.Access)
		}
		return false
	})
}

func (r reader) memory(m *specs.LinuxMemory) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "limit":
			return r.int64Ptr(&m.Limit)
		case "reservation":
			return r.int64Ptr(&m.Reservation)
		case "swap":
			return r.int64Ptr(&m.Swap)
		case "kernel":
			return r.int64Ptr(&m.Kernel)
		case "kernelTCP":
			return r.int64Ptr(&m.KernelTCP)
		case "swappiness":
			return r.uint64Ptr(&m.Swappiness)
		case "disableOOMKiller":
			return jsonfast.SetPtr(r.Reader, &m.DisableOOMKiller, r.SetBool)
		case "useHierarchy":
			return jsonfast.SetPtr(r.Reader, &m.UseHierarchy, r.SetBool)
		case "checkBeforeUpdate":
			return jsonfast.SetPtr(r.Reader, &m.CheckBeforeUpdate, r.SetBool)
		}
		return false
	})
}

func (r reader) cpu(c *specs.LinuxCPU) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "shares":
			return r.uint64Ptr(&c.Shares)
		case "quota":
			return r.int64Ptr(&c.Quota)
		case "burst":
			return r.uint64Ptr(&c.Burst)
		case "period":
			return r.uint64Ptr(&c.Period)
		case "realtimeRuntime":
			return r.int64Ptr(&c.RealtimeRuntime)
		case "realtimePeriod":
			return r.uint64Ptr(&c.RealtimePeriod)
		case "cpus":
			return r.SetString(&c.Cpus)
		case "mems":
			return r.SetString(&c.Mems)
		case "idle":
			return r.int64Ptr(&c.Idle)
		}
		return false
	})
}

func (r reader) blockIO(b *specs.LinuxBlockIO) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "weight":
			return jsonfast.SetUintPtr(r.Reader, &b.Weight)
		case "leafWeight":
			return jsonfast.SetUintPtr(r.Reader, &b.LeafWeight)
		}
		return false
	})
}

func (r reader) hugepageLimit(h *specs.LinuxHugepageLimit) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "pageSize":
			return r.SetString(&h.Pagesize)
		case "limit":
			return r.uint64(&h.Limit)
		}
		return false
	})
}
