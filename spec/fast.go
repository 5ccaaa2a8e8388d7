package spec

import (
	"os"
	"slices"
	"strconv"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
	r := &reader{data: data}
	r.space()
	if !r.object(func(key string) bool { return r.document(key, d) }) {
		return false
	}
	r.space()
	return r.i == len(r.data)
}

// reader walks JSON in data from i; its methods consume one value and
// return false on anything decodeFast leaves to encoding/json.
type reader struct {
	data  []byte
	i     int
	depth int
}

func (r *reader) space() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) next() byte {
	if r.i < len(r.data) {
		return r.data[r.i]
	}
	return 0
}

// literal consumes word (null, true, false) if it is next.
func (r *reader) literal(word string) bool {
	if len(r.data)-r.i >= len(word) && string(r.data[r.i:r.i+len(word)]) == word {
		r.i += len(word)
		return true
	}
	return false
}

// object reads an object, calling field for each key with the reader at
// the key's value. A key given twice is left to encoding/json (it merges).
func (r *reader) object(field func(key string) bool) bool {
	if r.next() != '{' {
		return false
	}
	r.i++
	r.space()
	if r.next() == '}' {
		r.i++
		return true
	}
	seen := make([]string, 0, 16)
	for {
		key, ok := r.str()
		if !ok || slices.Contains(seen, key) {
			return false
		}
		seen = append(seen, key)
		r.space()
		if r.next() != ':' {
			return false
		}
		r.i++
		r.space()
		if !field(key) {
			return false
		}
		r.space()
		switch r.next() {
		case ',':
			r.i++
			r.space()
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (r *reader) array(elem func() bool) bool {
	if r.next() != '[' {
		return false
	}
	r.i++
	r.space()
	if r.next() == ']' {
		r.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		r.space()
		switch r.next() {
		case ',':
			r.i++
			r.space()
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string without escapes, of valid UTF-8.
func (r *reader) str() (string, bool) {
	if r.next() != '"' {
		return "", false
	}
	start, ascii := r.i+1, true
	for i := start; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			s := r.data[start:i]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			r.i = i + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// integer reads a JSON number that is an integer: no fraction, no exponent.
func (r *reader) integer() (string, bool) {
	start := r.i
	if r.next() == '-' {
		r.i++
	}
	switch c := r.next(); {
	case c == '0':
		r.i++
	case c >= '1' && c <= '9':
		for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
			r.i++
		}
	default:
		return "", false
	}
	switch r.next() {
	case '.', 'e', 'E':
		return "", false
	}
	return string(r.data[start:r.i]), true
}

func (r *reader) uint(bits int) (uint64, bool) {
	s, ok := r.integer()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, bits)
	return v, err == nil
}

func (r *reader) int(bits int) (int64, bool) {
	s, ok := r.integer()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, bits)
	return v, err == nil
}

// The setters below store a value as encoding/json does: null leaves a
// string, number or bool as it is and makes a pointer, slice or map nil.

func (r *reader) setString(p *string) bool {
	if r.literal("null") {
		return true
	}
	s, ok := r.str()
	*p = s
	return ok
}

func (r *reader) setBool(p *bool) bool {
	switch {
	case r.literal("null"):
	case r.literal("true"):
		*p = true
	case r.literal("false"):
		*p = false
	default:
		return false
	}
	return true
}

func (r *reader) setBoolPtr(p **bool) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	*p = new(bool)
	return r.setBool(*p)
}

func (r *reader) setUint(p *uint) bool {
	if r.literal("null") {
		return true
	}
	v, ok := r.uint(strconv.IntSize)
	*p = uint(v)
	return ok
}

func (r *reader) setUint32(p *uint32) bool {
	if r.literal("null") {
		return true
	}
	v, ok := r.uint(32)
	*p = uint32(v)
	return ok
}

func (r *reader) setUint32Ptr(p **uint32) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	*p = new(uint32)
	return r.setUint32(*p)
}

func (r *reader) setUint64(p *uint64) bool {
	if r.literal("null") {
		return true
	}
	v, ok := r.uint(64)
	*p = v
	return ok
}

func (r *reader) setUint64Ptr(p **uint64) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	*p = new(uint64)
	return r.setUint64(*p)
}

func (r *reader) setUint16Ptr(p **uint16) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	v, ok := r.uint(16)
	x := uint16(v)
	*p = &x
	return ok
}

func (r *reader) setInt64(p *int64) bool {
	if r.literal("null") {
		return true
	}
	v, ok := r.int(64)
	*p = v
	return ok
}

func (r *reader) setInt64Ptr(p **int64) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	*p = new(int64)
	return r.setInt64(*p)
}

func (r *reader) setIntPtr(p **int) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	v, ok := r.int(strconv.IntSize)
	x := int(v)
	*p = &x
	return ok
}

func (r *reader) setStrings(p *[]string) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	l := []string{}
	ok := r.array(func() bool {
		s, ok := r.str()
		l = append(l, s)
		return ok
	})
	*p = l
	return ok
}

func (r *reader) setStringMap(p *map[string]string) bool {
	if r.literal("null") {
		*p = nil
		return true
	}
	m := map[string]string{}
	*p = m
	return r.object(func(key string) bool {
		if r.next() == 'n' {
			return false
		}
		var v string
		ok := r.setString(&v)
		m[key] = v
		return ok
	})
}

// raw reads any value, checking its syntax as encoding/json does, and
// returns a copy of its JSON.
func (r *reader) raw() ([]byte, bool) {
	start := r.i
	if !r.skip() {
		return nil, false
	}
	return append([]byte(nil), r.data[start:r.i]...), true
}

// skip reads any JSON value: escapes, fractions and all.
func (r *reader) skip() bool {
	switch c := r.next(); {
	case c == '{' || c == '[':
		if r.depth++; r.depth > 1000 {
			return false
		}
		defer func() { r.depth-- }()
		if c == '[' {
			return r.array(r.skip)
		}
		return r.object(func(string) bool { return r.skip() })
	case c == '"':
		return r.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.skipNumber()
	default:
		return r.literal("null") || r.literal("true") || r.literal("false")
	}
}

// skipString reads a string with any escapes.
func (r *reader) skipString() bool {
	for i := r.i + 1; i < len(r.data); i++ {
		switch c := r.data[i]; {
		case c == '"':
			r.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i == len(r.data) {
				return false
			}
			switch r.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(r.data) {
					return false
				}
				for _, h := range r.data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func (r *reader) skipNumber() bool {
	if _, ok := r.integer(); ok {
		return true
	}
	// A fraction or an exponent: integer stopped before it.
	digits := func() bool {
		start := r.i
		for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
			r.i++
		}
		return r.i > start
	}
	if r.next() == '.' {
		r.i++
		if !digits() {
			return false
		}
	}
	if c := r.next(); c == 'e' || c == 'E' {
		r.i++
		if c := r.next(); c == '+' || c == '-' {
			r.i++
		}
		if !digits() {
			return false
		}
	}
	return true
}

// The fields of the types a config is made of. A key not among them is
// left to encoding/json, which may match it to a field regardless of case.

func (r *reader) document(key string, d *document) bool {
	switch key {
	case "ociVersion":
		return r.setString(&d.Version)
	case "process":
		return r.orNull(func() bool { d.Process = new(specs.Process); return r.process(d.Process) }, func() { d.Process = nil })
	case "root":
		return r.orNull(func() bool {
			d.Root = new(specs.Root)
			return r.object(func(key string) bool {
				switch key {
				case "path":
					return r.setString(&d.Root.Path)
				case "readonly":
					return r.setBool(&d.Root.Readonly)
				}
				return false
			})
		}, func() { d.Root = nil })
	case "hostname":
		return r.setString(&d.Hostname)
	case "domainname":
		return r.setString(&d.Domainname)
	case "mounts":
		return r.orNull(func() bool {
			d.Mounts = []specs.Mount{}
			return r.array(func() bool {
				d.Mounts = append(d.Mounts, specs.Mount{})
				return r.mount(&d.Mounts[len(d.Mounts)-1])
			})
		}, func() { d.Mounts = nil })
	case "hooks":
		return r.orNull(func() bool { d.Hooks = new(specs.Hooks); return r.hooks(d.Hooks) }, func() { d.Hooks = nil })
	case "annotations":
		return r.setStringMap(&d.Annotations)
	case "linux":
		return r.orNull(func() bool { d.Linux = new(linuxDocument); return r.linux(d.Linux) }, func() { d.Linux = nil })
	}
	return false
}

// orNull reads a pointer, slice or map field: set reads its value, and
// null clears it.
func (r *reader) orNull(set func() bool, clear func()) bool {
	if r.literal("null") {
		clear()
		return true
	}
	return set()
}

func (r *reader) process(p *specs.Process) bool {
	return r.object(func(key string) bool {
		switch key {
		case "terminal":
			return r.setBool(&p.Terminal)
		case "consoleSize":
			return r.orNull(func() bool {
				p.ConsoleSize = new(specs.Box)
				return r.object(func(key string) bool {
					switch key {
					case "height":
						return r.setUint(&p.ConsoleSize.Height)
					case "width":
						return r.setUint(&p.ConsoleSize.Width)
					}
					return false
				})
			}, func() { p.ConsoleSize = nil })
		case "user":
			if r.literal("null") {
				return true
			}
			return r.user(&p.User)
		case "args":
			return r.setStrings(&p.Args)
		case "commandLine":
			return r.setString(&p.CommandLine)
		case "env":
			return r.setStrings(&p.Env)
		case "cwd":
			return r.setString(&p.Cwd)
		case "capabilities":
			return r.orNull(func() bool {
				c := new(specs.LinuxCapabilities)
				p.Capabilities = c
				return r.object(func(key string) bool {
					switch key {
					case "bounding":
						return r.setStrings(&c.Bounding)
					case "effective":
						return r.setStrings(&c.Effective)
					case "inheritable":
						return r.setStrings(&c.Inheritable)
					case "permitted":
						return r.setStrings(&c.Permitted)
					case "ambient":
						return r.setStrings(&c.Ambient)
					}
					return false
				})
			}, func() { p.Capabilities = nil })
		case "rlimits":
			return r.orNull(func() bool {
				p.Rlimits = []specs.POSIXRlimit{}
				return r.array(func() bool {
					p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{})
					l := &p.Rlimits[len(p.Rlimits)-1]
					return r.object(func(key string) bool {
						switch key {
						case "type":
							return r.setString(&l.Type)
						case "hard":
							return r.setUint64(&l.Hard)
						case "soft":
							return r.setUint64(&l.Soft)
						}
						return false
					})
				})
			}, func() { p.Rlimits = nil })
		case "noNewPrivileges":
			return r.setBool(&p.NoNewPrivileges)
		case "apparmorProfile":
			return r.setString(&p.ApparmorProfile)
		case "oomScoreAdj":
			return r.setIntPtr(&p.OOMScoreAdj)
		case "selinuxLabel":
			return r.setString(&p.SelinuxLabel)
		}
		return false
	})
}

func (r *reader) user(u *specs.User) bool {
	return r.object(func(key string) bool {
		switch key {
		case "uid":
			return r.setUint32(&u.UID)
		case "gid":
			return r.setUint32(&u.GID)
		case "umask":
			return r.setUint32Ptr(&u.Umask)
		case "additionalGids":
			return r.orNull(func() bool {
				u.AdditionalGids = []uint32{}
				return r.array(func() bool {
					v, ok := r.uint(32)
					u.AdditionalGids = append(u.AdditionalGids, uint32(v))
					return ok
				})
			}, func() { u.AdditionalGids = nil })
		case "username":
			return r.setString(&u.Username)
		}
		return false
	})
}

func (r *reader) idMappings(p *[]specs.LinuxIDMapping) bool {
	return r.orNull(func() bool {
		*p = []specs.LinuxIDMapping{}
		return r.array(func() bool {
			*p = append(*p, specs.LinuxIDMapping{})
			m := &(*p)[len(*p)-1]
			return r.object(func(key string) bool {
				switch key {
				case "containerID":
					return r.setUint32(&m.ContainerID)
				case "hostID":
					return r.setUint32(&m.HostID)
				case "size":
					return r.setUint32(&m.Size)
				}
				return false
			})
		})
	}, func() { *p = nil })
}

func (r *reader) mount(m *specs.Mount) bool {
	return r.object(func(key string) bool {
		switch key {
		case "destination":
			return r.setString(&m.Destination)
		case "type":
			return r.setString(&m.Type)
		case "source":
			return r.setString(&m.Source)
		case "options":
			return r.setStrings(&m.Options)
		case "uidMappings":
			return r.idMappings(&m.UIDMappings)
		case "gidMappings":
			return r.idMappings(&m.GIDMappings)
		}
		return false
	})
}

func (r *reader) hooks(h *specs.Hooks) bool {
	return r.object(func(key string) bool {
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
		return r.orNull(func() bool {
			*p = []specs.Hook{}
			return r.array(func() bool {
				*p = append(*p, specs.Hook{})
				hk := &(*p)[len(*p)-1]
				return r.object(func(key string) bool {
					switch key {
					case "path":
						return r.setString(&hk.Path)
					case "args":
						return r.setStrings(&hk.Args)
					case "env":
						return r.setStrings(&hk.Env)
					case "timeout":
						return r.setIntPtr(&hk.Timeout)
					}
					return false
				})
			})
		}, func() { *p = nil })
	})
}

func (r *reader) linux(l *linuxDocument) bool {
	return r.object(func(key string) bool {
		switch key {
		case "uidMappings":
			return r.idMappings(&l.UIDMappings)
		case "gidMappings":
			return r.idMappings(&l.GIDMappings)
		case "sysctl":
			return r.setStringMap(&l.Sysctl)
		case "resources":
			return r.orNull(func() bool {
				start := r.i
				l.Resources = &resourcesDocument{v: new(specs.LinuxResources)}
				if !r.resources(l.Resources.v) {
					return false
				}
				l.Resources.raw = append([]byte(nil), r.data[start:r.i]...)
				return true
			}, func() { l.Resources = nil })
		case "cgroupsPath":
			return r.setString(&l.CgroupsPath)
		case "namespaces":
			return r.orNull(func() bool {
				l.Namespaces = []specs.LinuxNamespace{}
				return r.array(func() bool {
					l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{})
					ns := &l.Namespaces[len(l.Namespaces)-1]
					return r.object(func(key string) bool {
						switch key {
						case "type":
							t := string(ns.Type)
							ok := r.setString(&t)
							ns.Type = specs.LinuxNamespaceType(t)
							return ok
						case "path":
							return r.setString(&ns.Path)
						}
						return false
					})
				})
			}, func() { l.Namespaces = nil })
		case "devices":
			return r.orNull(func() bool {
				l.Devices = []specs.LinuxDevice{}
				return r.array(func() bool {
					l.Devices = append(l.Devices, specs.LinuxDevice{})
					return r.device(&l.Devices[len(l.Devices)-1])
				})
			}, func() { l.Devices = nil })
		case "seccomp":
			raw, ok := r.raw()
			l.Seccomp = raw
			return ok
		case "rootfsPropagation":
			return r.setString(&l.RootfsPropagation)
		case "maskedPaths":
			return r.setStrings(&l.MaskedPaths)
		case "readonlyPaths":
			return r.setStrings(&l.ReadonlyPaths)
		case "mountLabel":
			return r.setString(&l.MountLabel)
		}
		return false
	})
}

func (r *reader) device(d *specs.LinuxDevice) bool {
	return r.object(func(key string) bool {
		switch key {
		case "path":
			return r.setString(&d.Path)
		case "type":
			return r.setString(&d.Type)
		case "major":
			return r.setInt64(&d.Major)
		case "minor":
			return r.setInt64(&d.Minor)
		case "fileMode":
			if r.literal("null") {
				d.FileMode = nil
				return true
			}
			v, ok := r.uint(32)
			m := os.FileMode(v)
			d.FileMode = &m
			return ok
		case "uid":
			return r.setUint32Ptr(&d.UID)
		case "gid":
			return r.setUint32Ptr(&d.GID)
		}
		return false
	})
}

func (r *reader) resources(res *specs.LinuxResources) bool {
	return r.object(func(key string) bool {
		switch key {
		case "devices":
			return r.orNull(func() bool {
				res.Devices = []specs.LinuxDeviceCgroup{}
				return r.array(func() bool {
					res.Devices = append(res.Devices, specs.LinuxDeviceCgroup{})
					d := &res.Devices[len(res.Devices)-1]
					return r.object(func(key string) bool {
						switch key {
						case "allow":
							return r.setBool(&d.Allow)
						case "type":
							return r.setString(&d.Type)
						case "major":
							return r.setInt64Ptr(&d.Major)
						case "minor":
							return r.setInt64Ptr(&d.Minor)
						case "access":
							return r.setString(&d.Access)
						}
						return false
					})
				})
			}, func() { res.Devices = nil })
		case "memory":
			return r.orNull(func() bool {
				m := new(specs.LinuxMemory)
				res.Memory = m
				return r.object(func(key string) bool {
					switch key {
					case "limit":
						return r.setInt64Ptr(&m.Limit)
					case "reservation":
						return r.setInt64Ptr(&m.Reservation)
					case "swap":
						return r.setInt64Ptr(&m.Swap)
					case "kernel":
						return r.setInt64Ptr(&m.Kernel)
					case "kernelTCP":
						return r.setInt64Ptr(&m.KernelTCP)
					case "swappiness":
						return r.setUint64Ptr(&m.Swappiness)
					case "disableOOMKiller":
						return r.setBoolPtr(&m.DisableOOMKiller)
					case "useHierarchy":
						return r.setBoolPtr(&m.UseHierarchy)
					case "checkBeforeUpdate":
						return r.setBoolPtr(&m.CheckBeforeUpdate)
					}
					return false
				})
			}, func() { res.Memory = nil })
		case "cpu":
			return r.orNull(func() bool {
				c := new(specs.LinuxCPU)
				res.CPU = c
				return r.object(func(key string) bool {
					switch key {
					case "shares":
						return r.setUint64Ptr(&c.Shares)
					case "quota":
						return r.setInt64Ptr(&c.Quota)
					case "burst":
						return r.setUint64Ptr(&c.Burst)
					case "period":
						return r.setUint64Ptr(&c.Period)
					case "realtimeRuntime":
						return r.setInt64Ptr(&c.RealtimeRuntime)
					case "realtimePeriod":
						return r.setUint64Ptr(&c.RealtimePeriod)
					case "cpus":
						return r.setString(&c.Cpus)
					case "mems":
						return r.setString(&c.Mems)
					case "idle":
						return r.setInt64Ptr(&c.Idle)
					}
					return false
				})
			}, func() { res.CPU = nil })
		case "pids":
			return r.orNull(func() bool {
				res.Pids = new(specs.LinuxPids)
				return r.object(func(key string) bool {
					return key == "limit" && r.setInt64Ptr(&res.Pids.Limit)
				})
			}, func() { res.Pids = nil })
		case "blockIO":
			return r.orNull(func() bool {
				b := new(specs.LinuxBlockIO)
				res.BlockIO = b
				return r.object(func(key string) bool {
					switch key {
					case "weight":
						return r.setUint16Ptr(&b.Weight)
					case "leafWeight":
						return r.setUint16Ptr(&b.LeafWeight)
					}
					return false
				})
			}, func() { res.BlockIO = nil })
		case "hugepageLimits":
			return r.orNull(func() bool {
				res.HugepageLimits = []specs.LinuxHugepageLimit{}
				return r.array(func() bool {
					res.HugepageLimits = append(res.HugepageLimits, specs.LinuxHugepageLimit{})
					h := &res.HugepageLimits[len(res.HugepageLimits)-1]
					return r.object(func(key string) bool {
						switch key {
						case "pageSize":
							return r.setString(&h.Pagesize)
						case "limit":
							return r.setUint64(&h.Limit)
						}
						return false
					})
				})
			}, func() { res.HugepageLimits = nil })
		case "unified":
			return r.setStringMap(&res.Unified)
		}
		return false
	})
}
