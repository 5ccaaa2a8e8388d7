package spec

import (
	"os"

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

// reader reads the types of a config.
type reader struct{ *jsonfast.Reader }

// The fields of the types a config is made of. A key not among them is
// left to encoding/json, which may match it to a field regardless of case.

func (r reader) document(key string, d *document) bool {
	switch key {
	case "ociVersion":
		return r.SetString(&d.Version)
	case "process":
		return r.OrNull(func() bool { d.Process = new(specs.Process); return r.process(d.Process) }, func() { d.Process = nil })
	case "root":
		return r.OrNull(func() bool {
			d.Root = new(specs.Root)
			return r.Object(func(key string) bool {
				switch key {
				case "path":
					return r.SetString(&d.Root.Path)
				case "readonly":
					return r.SetBool(&d.Root.Readonly)
				}
				return false
			})
		}, func() { d.Root = nil })
	case "hostname":
		return r.SetString(&d.Hostname)
	case "domainname":
		return r.SetString(&d.Domainname)
	case "mounts":
		return r.OrNull(func() bool {
			d.Mounts = []specs.Mount{}
			return r.Array(func() bool {
				d.Mounts = append(d.Mounts, specs.Mount{})
				return r.mount(&d.Mounts[len(d.Mounts)-1])
			})
		}, func() { d.Mounts = nil })
	case "hooks":
		return r.OrNull(func() bool { d.Hooks = new(specs.Hooks); return r.hooks(d.Hooks) }, func() { d.Hooks = nil })
	case "annotations":
		return r.SetStringMap(&d.Annotations)
	case "linux":
		return r.OrNull(func() bool { d.Linux = new(linuxDocument); return r.linux(d.Linux) }, func() { d.Linux = nil })
	}
	return false
}

func (r reader) process(p *specs.Process) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "terminal":
			return r.SetBool(&p.Terminal)
		case "consoleSize":
			return r.OrNull(func() bool {
				p.ConsoleSize = new(specs.Box)
				return r.Object(func(key string) bool {
					switch key {
					case "height":
						return r.SetUint(&p.ConsoleSize.Height)
					case "width":
						return r.SetUint(&p.ConsoleSize.Width)
					}
					return false
				})
			}, func() { p.ConsoleSize = nil })
		case "user":
			if r.Literal("null") {
				return true
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
			return r.OrNull(func() bool {
				c := new(specs.LinuxCapabilities)
				p.Capabilities = c
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
			}, func() { p.Capabilities = nil })
		case "rlimits":
			return r.OrNull(func() bool {
				p.Rlimits = []specs.POSIXRlimit{}
				return r.Array(func() bool {
					p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{})
					l := &p.Rlimits[len(p.Rlimits)-1]
					return r.Object(func(key string) bool {
						switch key {
						case "type":
							return r.SetString(&l.Type)
						case "hard":
							return r.SetUint64(&l.Hard)
						case "soft":
							return r.SetUint64(&l.Soft)
						}
						return false
					})
				})
			}, func() { p.Rlimits = nil })
		case "noNewPrivileges":
			return r.SetBool(&p.NoNewPrivileges)
		case "apparmorProfile":
			return r.SetString(&p.ApparmorProfile)
		case "oomScoreAdj":
			return r.SetIntPtr(&p.OOMScoreAdj)
		case "selinuxLabel":
			return r.SetString(&p.SelinuxLabel)
		}
		return false
	})
}

func (r reader) user(u *specs.User) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "uid":
			return r.SetUint32(&u.UID)
		case "gid":
			return r.SetUint32(&u.GID)
		case "umask":
			return r.SetUint32Ptr(&u.Umask)
		case "additionalGids":
			return r.OrNull(func() bool {
				u.AdditionalGids = []uint32{}
				return r.Array(func() bool {
					v, ok := r.Uint(32)
					u.AdditionalGids = append(u.AdditionalGids, uint32(v))
					return ok
				})
			}, func() { u.AdditionalGids = nil })
		case "username":
			return r.SetString(&u.Username)
		}
		return false
	})
}

func (r reader) idMappings(p *[]specs.LinuxIDMapping) bool {
	return r.OrNull(func() bool {
		*p = []specs.LinuxIDMapping{}
		return r.Array(func() bool {
			*p = append(*p, specs.LinuxIDMapping{})
			m := &(*p)[len(*p)-1]
			return r.Object(func(key string) bool {
				switch key {
				case "containerID":
					return r.SetUint32(&m.ContainerID)
				case "hostID":
					return r.SetUint32(&m.HostID)
				case "size":
					return r.SetUint32(&m.Size)
				}
				return false
			})
		})
	}, func() { *p = nil })
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
			return r.idMappings(&m.UIDMappings)
		case "gidMappings":
			return r.idMappings(&m.GIDMappings)
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
		return r.OrNull(func() bool {
			*p = []specs.Hook{}
			return r.Array(func() bool {
				*p = append(*p, specs.Hook{})
				hk := &(*p)[len(*p)-1]
				return r.Object(func(key string) bool {
					switch key {
					case "path":
						return r.SetString(&hk.Path)
					case "args":
						return r.SetStrings(&hk.Args)
					case "env":
						return r.SetStrings(&hk.Env)
					case "timeout":
						return r.SetIntPtr(&hk.Timeout)
					}
					return false
				})
			})
		}, func() { *p = nil })
	})
}

func (r reader) linux(l *linuxDocument) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "uidMappings":
			return r.idMappings(&l.UIDMappings)
		case "gidMappings":
			return r.idMappings(&l.GIDMappings)
		case "sysctl":
			return r.SetStringMap(&l.Sysctl)
		case "resources":
			return r.OrNull(func() bool {
				start := r.Pos()
				l.Resources = &resourcesDocument{v: new(specs.LinuxResources)}
				if !r.resources(l.Resources.v) {
					return false
				}
				l.Resources.raw = r.Since(start)
				return true
			}, func() { l.Resources = nil })
		case "cgroupsPath":
			return r.SetString(&l.CgroupsPath)
		case "namespaces":
			return r.OrNull(func() bool {
				l.Namespaces = []specs.LinuxNamespace{}
				return r.Array(func() bool {
					l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{})
					ns := &l.Namespaces[len(l.Namespaces)-1]
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
				})
			}, func() { l.Namespaces = nil })
		case "devices":
			return r.OrNull(func() bool {
				l.Devices = []specs.LinuxDevice{}
				return r.Array(func() bool {
					l.Devices = append(l.Devices, specs.LinuxDevice{})
					return r.device(&l.Devices[len(l.Devices)-1])
				})
			}, func() { l.Devices = nil })
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

func (r reader) device(d *specs.LinuxDevice) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "path":
			return r.SetString(&d.Path)
		case "type":
			return r.SetString(&d.Type)
		case "major":
			return r.SetInt64(&d.Major)
		case "minor":
			return r.SetInt64(&d.Minor)
		case "fileMode":
			if r.Literal("null") {
				d.FileMode = nil
				return true
			}
			v, ok := r.Uint(32)
			m := os.FileMode(v)
			d.FileMode = &m
			return ok
		case "uid":
			return r.SetUint32Ptr(&d.UID)
		case "gid":
			return r.SetUint32Ptr(&d.GID)
		}
		return false
	})
}

func (r reader) resources(res *specs.LinuxResources) bool {
	return r.Object(func(key string) bool {
		switch key {
		case "devices":
			return r.OrNull(func() bool {
				res.Devices = []specs.LinuxDeviceCgroup{}
				return r.Array(func() bool {
					res.Devices = append(res.Devices, specs.LinuxDeviceCgroup{})
					d := &res.Devices[len(res.Devices)-1]
					return r.Object(func(key string) bool {
						switch key {
						case "allow":
							return r.SetBool(&d.Allow)
						case "type":
							return r.SetString(&d.Type)
						case "major":
							return r.SetInt64Ptr(&d.Major)
						case "minor":
							return r.SetInt64Ptr(&d.Minor)
						case "access":
							return r.SetString(&d.Access)
						}
						return false
					})
				})
			}, func() { res.Devices = nil })
		case "memory":
			return r.OrNull(func() bool {
				m := new(specs.LinuxMemory)
				res.Memory = m
				return r.Object(func(key string) bool {
					switch key {
					case "limit":
						return r.SetInt64Ptr(&m.Limit)
					case "reservation":
						return r.SetInt64Ptr(&m.Reservation)
					case "swap":
						return r.SetInt64Ptr(&m.Swap)
					case "kernel":
						return r.SetInt64Ptr(&m.Kernel)
					case "kernelTCP":
						return r.SetInt64Ptr(&m.KernelTCP)
					case "swappiness":
						return r.SetUint64Ptr(&m.Swappiness)
					case "disableOOMKiller":
						return r.SetBoolPtr(&m.DisableOOMKiller)
					case "useHierarchy":
						return r.SetBoolPtr(&m.UseHierarchy)
					case "checkBeforeUpdate":
						return r.SetBoolPtr(&m.CheckBeforeUpdate)
					}
					return false
				})
			}, func() { res.Memory = nil })
		case "cpu":
			return r.OrNull(func() bool {
				c := new(specs.LinuxCPU)
				res.CPU = c
				return r.Object(func(key string) bool {
					switch key {
					case "shares":
						return r.SetUint64Ptr(&c.Shares)
					case "quota":
						return r.SetInt64Ptr(&c.Quota)
					case "burst":
						return r.SetUint64Ptr(&c.Burst)
					case "period":
						return r.SetUint64Ptr(&c.Period)
					case "realtimeRuntime":
						return r.SetInt64Ptr(&c.RealtimeRuntime)
					case "realtimePeriod":
						return r.SetUint64Ptr(&c.RealtimePeriod)
					case "cpus":
						return r.SetString(&c.Cpus)
					case "mems":
						return r.SetString(&c.Mems)
					case "idle":
						return r.SetInt64Ptr(&c.Idle)
					}
					return false
				})
			}, func() { res.CPU = nil })
		case "pids":
			return r.OrNull(func() bool {
				res.Pids = new(specs.LinuxPids)
				return r.Object(func(key string) bool {
					return key == "limit" && r.SetInt64Ptr(&res.Pids.Limit)
				})
			}, func() { res.Pids = nil })
		case "blockIO":
			return r.OrNull(func() bool {
				b := new(specs.LinuxBlockIO)
				res.BlockIO = b
				return r.Object(func(key string) bool {
					switch key {
					case "weight":
						return r.SetUint16Ptr(&b.Weight)
					case "leafWeight":
						return r.SetUint16Ptr(&b.LeafWeight)
					}
					return false
				})
			}, func() { res.BlockIO = nil })
		case "hugepageLimits":
			return r.OrNull(func() bool {
				res.HugepageLimits = []specs.LinuxHugepageLimit{}
				return r.Array(func() bool {
					res.HugepageLimits = append(res.HugepageLimits, specs.LinuxHugepageLimit{})
					h := &res.HugepageLimits[len(res.HugepageLimits)-1]
					return r.Object(func(key string) bool {
						switch key {
						case "pageSize":
							return r.SetString(&h.Pagesize)
						case "limit":
							return r.SetUint64(&h.Limit)
						}
						return false
					})
				})
			}, func() { res.HugepageLimits = nil })
		case "unified":
			return r.SetStringMap(&res.Unified)
		}
		return false
	})
}
