package state

import (
	"maps"
	"slices"
	"strconv"

	"github.com/kan-runtime/kan/libcontainer/jsonfast"
)

// encode writes s as state.json: what json.Marshal(s) writes, to the
// byte (TestEncodeIsEncodingJSON), without encoding/json, whose first
// Marshal in a process builds its encoders by reflection (about 0.2 ms,
// in every create and start). The config, resources and hooks go in as
// the raw JSON they are: they were checked when they were read, and the
// config is most of the state (a seccomp profile alone is tens of
// kilobytes).
func encode(s *State) ([]byte, error) {
	created, err := s.Created.MarshalJSON()
	if err != nil {
		return nil, err
	}
	config, resources, hooks := s.Config.rawJSON(), s.Resources.rawJSON(), s.Hooks.rawJSON()
	b := make([]byte, 0, 512+len(config)+len(resources)+len(hooks))
	str := func(key, v string) {
		b = jsonfast.AppendString(append(append(append(b, ",\""...), key...), "\":"...), v)
	}
	b = jsonfast.AppendString(append(b, `{"ociVersion":`...), s.OCIVersion)
	str("id", s.ID)
	b = strconv.AppendInt(append(b, `,"pid":`...), int64(s.Pid), 10)
	str("status", s.Status)
	str("bundle", s.Bundle)
	str("rootfs", s.Rootfs)
	b = append(append(b, `,"created":`...), created...)
	str("owner", s.Owner)
	if len(s.Annotations) > 0 {
		b = append(b, `,"annotations":{`...)
		for i, k := range slices.Sorted(maps.Keys(s.Annotations)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonfast.AppendString(append(jsonfast.AppendString(b, k), ':'), s.Annotations[k])
		}
		b = append(b, '}')
	}
	if s.InitStartTime != 0 {
		b = strconv.AppendUint(append(b, `,"kanInitStartTime":`...), s.InitStartTime, 10)
	}
	if s.CgroupPath != "" {
		str("kanCgroupPath", s.CgroupPath)
	}
	if s.CgroupTop != "" {
		str("kanCgroupTop", s.CgroupTop)
	}
	if s.Started {
		b = append(b, `,"kanStarted":true`...)
	}
	if s.SystemdUnit != "" {
		str("kanSystemdUnit", s.SystemdUnit)
	}
	if s.Rootless {
		b = append(b, `,"kanRootless":true`...)
	}
	if s.HooksKept {
		b = append(b, `,"kanHooksKept":true`...)
	}
	for _, part := range []struct {
		key string
		raw []byte
	}{{"kanConfig", config}, {"kanResources", resources}, {"kanHooks", hooks}} {
		if part.raw != nil {
			b = append(append(append(append(b, ",\""...), part.key...), "\":"...), part.raw...)
		}
	}
	return append(b, '}'), nil
}

// decodeFast reads state.json as encode writes it into s, without
// encoding/json. On anything else (a key it does not know, an escape in a
// string, …) it returns false, and Read decodes with encoding/json,
// which stays the reference (FuzzDecodeState).
func decodeFast(data []byte, s *State) bool {
	r := jsonfast.NewReader(data)
	return r.Object(func(key string) bool {
		switch key {
		case "ociVersion":
			return r.SetString(&s.OCIVersion)
		case "id":
			return r.SetString(&s.ID)
		case "pid":
			return jsonfast.SetInt(r, &s.Pid)
		case "status":
			return r.SetString(&s.Status)
		case "bundle":
			return r.SetString(&s.Bundle)
		case "rootfs":
			return r.SetString(&s.Rootfs)
		case "created":
			start := r.Pos()
			return r.Skip() && s.Created.UnmarshalJSON(r.Since(start)) == nil
		case "owner":
			return r.SetString(&s.Owner)
		case "annotations":
			return r.SetStringMap(&s.Annotations)
		case "kanInitStartTime":
			return jsonfast.SetUint(r, &s.InitStartTime)
		case "kanCgroupPath":
			return r.SetString(&s.CgroupPath)
		case "kanCgroupTop":
			return r.SetString(&s.CgroupTop)
		case "kanStarted":
			return r.SetBool(&s.Started)
		case "kanSystemdUnit":
			return r.SetString(&s.SystemdUnit)
		case "kanRootless":
			return r.SetBool(&s.Rootless)
		case "kanHooksKept":
			return r.SetBool(&s.HooksKept)
		case "kanConfig":
			return readLazy(r, &s.Config)
		case "kanResources":
			return readLazy(r, &s.Resources)
		case "kanHooks":
			return readLazy(r, &s.Hooks)
		}
		return false
	}) && r.End()
}

// readLazy reads a *Lazy[T] field as encoding/json does: nil for null,
// otherwise the value's JSON as written.
func readLazy[T any](r *jsonfast.Reader, p **Lazy[T]) bool {
	return jsonfast.SetPtr(r, p, func(l *Lazy[T]) bool {
		raw, ok := r.Raw()
		l.raw = raw
		return ok
	})
}
