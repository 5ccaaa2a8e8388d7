package spec

import (
	"bytes"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config is a config.json as Load read it: the config decoded, the bytes
// as read, and the two sections kan keeps as they were written.
type Config struct {
	// Spec is the config, with linux.seccomp left nil: it is in Seccomp.
	Spec *specs.Spec
	// Raw is the config's bytes as read; nil when Spec is all there is.
	Raw []byte
	// Seccomp is linux.seccomp as written (nil: none). kan decodes it only
	// when no filter compiled from this very JSON is cached: Docker's
	// profile is some 350 rules, most of a config's decoding.
	Seccomp json.RawMessage
	// Resources is linux.resources as written (nil: none), which the
	// state keeps as it is.
	Resources json.RawMessage
}

// document is specs.Spec as Decode reads it: the sections that are not
// Linux's, and linux.seccomp, are kept as JSON. encoding/json builds its
// decoders for every type a decode reaches, on the first decode of a
// process; these would be half of them, and the seccomp rules most of
// the work. TestDocumentMirrorsSpec keeps the two types in step.
type document struct {
	Version     string            `json:"ociVersion"`
	Process     *specs.Process    `json:"process,omitempty"`
	Root        *specs.Root       `json:"root,omitempty"`
	Hostname    string            `json:"hostname,omitempty"`
	Domainname  string            `json:"domainname,omitempty"`
	Mounts      []specs.Mount     `json:"mounts,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`

	Linux   *linuxDocument  `json:"linux,omitempty"`
	Solaris json.RawMessage `json:"solaris,omitempty"`
	Windows json.RawMessage `json:"windows,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
	FreeBSD json.RawMessage `json:"freebsd,omitempty"`
}

// linuxDocument is specs.Linux with seccomp kept as JSON and resources
// kept as JSON beside their decoded value.
type linuxDocument struct {
	UIDMappings       []specs.LinuxIDMapping           `json:"uidMappings,omitempty"`
	GIDMappings       []specs.LinuxIDMapping           `json:"gidMappings,omitempty"`
	Sysctl            map[string]string                `json:"sysctl,omitempty"`
	Resources         *resourcesDocument               `json:"resources,omitempty"`
	CgroupsPath       string                           `json:"cgroupsPath,omitempty"`
	Namespaces        []specs.LinuxNamespace           `json:"namespaces,omitempty"`
	Devices           []specs.LinuxDevice              `json:"devices,omitempty"`
	NetDevices        map[string]specs.LinuxNetDevice  `json:"netDevices,omitempty"`
	Seccomp           json.RawMessage                  `json:"seccomp,omitempty"`
	RootfsPropagation string                           `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string                         `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string                         `json:"readonlyPaths,omitempty"`
	MountLabel        string                           `json:"mountLabel,omitempty"`
	IntelRdt          *specs.LinuxIntelRdt             `json:"intelRdt,omitempty"`
	MemoryPolicy      *specs.LinuxMemoryPolicy         `json:"memoryPolicy,omitempty"`
	Personality       *specs.LinuxPersonality          `json:"personality,omitempty"`
	TimeOffsets       map[string]specs.LinuxTimeOffset `json:"timeOffsets,omitempty"`
}

// resourcesDocument is linux.resources decoded, and its JSON.
type resourcesDocument struct {
	raw json.RawMessage
	v   *specs.LinuxResources
}

func (r *resourcesDocument) UnmarshalJSON(data []byte) error {
	// A key given twice merges into one value, as encoding/json does for
	// the other fields; the JSON kept is the last.
	if r.v == nil {
		r.v = new(specs.LinuxResources)
	}
	r.raw = append(json.RawMessage(nil), data...)
	return json.Unmarshal(data, r.v)
}

// Decode decodes config JSON from data, as Parse does, but leaves
// linux.seccomp as JSON (checked only to be an object or null) and
// decodes the other platforms' sections only when they are there. The
// configs engines write are read by decodeFast; anything it leaves, and
// every error, by encoding/json.
func Decode(name string, data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty, expected a JSON object", name)
	}
	var d document
	if !decodeFast(data, &d) {
		d = document{}
		if err := decodeJSON(data, &d); err != nil {
			return nil, describeJSONError(name, data, err)
		}
	}
	s := &specs.Spec{
		Version: d.Version, Process: d.Process, Root: d.Root,
		Hostname: d.Hostname, Domainname: d.Domainname, Mounts: d.Mounts,
		Hooks: d.Hooks, Annotations: d.Annotations,
	}
	c := &Config{Spec: s, Raw: data}
	if present(d.Solaris) || present(d.Windows) || present(d.VM) || present(d.ZOS) || present(d.FreeBSD) {
		// Not for Linux, and rare: decoded as Parse always did.
		var full specs.Spec
		if err := json.Unmarshal(data, &full); err != nil {
			return nil, describeJSONError(name, data, err)
		}
		s.Solaris, s.Windows, s.VM, s.ZOS, s.FreeBSD = full.Solaris, full.Windows, full.VM, full.ZOS, full.FreeBSD
	}
	if l := d.Linux; l != nil {
		s.Linux = &specs.Linux{
			UIDMappings: l.UIDMappings, GIDMappings: l.GIDMappings, Sysctl: l.Sysctl,
			CgroupsPath: l.CgroupsPath, Namespaces: l.Namespaces, Devices: l.Devices,
			NetDevices: l.NetDevices, RootfsPropagation: l.RootfsPropagation,
			MaskedPaths: l.MaskedPaths, ReadonlyPaths: l.ReadonlyPaths, MountLabel: l.MountLabel,
			IntelRdt: l.IntelRdt, MemoryPolicy: l.MemoryPolicy, Personality: l.Personality,
			TimeOffsets: l.TimeOffsets,
		}
		if l.Resources != nil {
			s.Linux.Resources, c.Resources = l.Resources.v, l.Resources.raw
		}
		if present(l.Seccomp) {
			if l.Seccomp[0] != '{' {
				// The error decoding into specs.Spec gives, with its place.
				var s specs.Spec
				return nil, describeJSONError(name, data, json.Unmarshal(data, &s))
			}
			c.Seccomp = l.Seccomp
		}
	}
	return c, nil
}

// decodeJSON decodes data into d with encoding/json. json.Unmarshal checks
// the whole input before it decodes anything, so data after the object is
// a syntax error with its position, and a type error is only reported for
// syntactically valid JSON.
func decodeJSON(data []byte, d *document) error {
	err := json.Unmarshal(data, d)
	if err != nil {
		// The error again, decoding into specs.Spec: it names the
		// field's whole path and its place in the file, which an error
		// from within resourcesDocument does not.
		var s specs.Spec
		if err2 := json.Unmarshal(data, &s); err2 != nil {
			err = err2
		}
	}
	return err
}

// present says whether raw holds a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// ParseSeccomp decodes a linux.seccomp kept by Decode; name is used in
// messages, e.g. "config.json". Its errors name the field within
// linux.seccomp and its line and column within the section.
func ParseSeccomp(name string, raw json.RawMessage) (*specs.LinuxSeccomp, error) {
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, describeJSONError(name+": linux.seccomp", raw, err)
	}
	return &p, nil
}
