package devices

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/bpf"
)

// ProgramName is the name (bpf_prog_info.name) of the programs Apply loads.
// Apply recognises the programs it attached earlier by it, and replaces only
// those; programs attached by others are left alone.
const ProgramName = "kan_devices"

// Apply loads the program for rules and attaches it to the cgroup v2
// directory open at dirFd (O_RDONLY|O_DIRECTORY), replacing any program a
// previous Apply attached there. The replacement never leaves the cgroup
// without a filter: with one previous program it is swapped atomically
// (BPF_F_REPLACE); otherwise the new program is attached first and the old
// ones are detached after it (while both are attached, an access must pass
// both).
//
// The program is attached with BPF_PROG_ATTACH and BPF_F_ALLOW_MULTI, not
// through a bpf_link, so it stays in force after the calling process exits,
// until the cgroup is removed or Apply replaces it. Programs of other owners
// attached with BPF_F_ALLOW_MULTI keep running alongside it (an access must
// pass all of them). Callers must not run Apply concurrently on one cgroup.
//
// Apply returns an error naming the rule and field when a rule is invalid
// (see [Program]); nothing is changed then.
func Apply(dirFd int, rules []specs.LinuxDeviceCgroup) error {
	prog, err := Load(rules)
	if err != nil {
		return err
	}
	// The kernel holds its own reference once the program is attached.
	defer prog.Close()
	return Attach(dirFd, prog)
}

// Load builds and loads the program for rules, for Attach: create loads
// it while it makes the rest of the container, as it needs no cgroup.
func Load(rules []specs.LinuxDeviceCgroup) (*bpf.Program, error) {
	insns, err := Program(rules)
	if err != nil {
		return nil, err
	}
	code, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	prog, err := bpf.Load(bpf.ProgTypeCgroupDevice, ProgramName, "Apache", code)
	if err != nil {
		return nil, fmt.Errorf("devices: load program: %w", err)
	}
	return prog, nil
}

// Attach puts prog (from Load) on the cgroup v2 directory dirFd, in place
// of any earlier program of kan's, as Apply describes. The caller still
// closes prog.
func Attach(dirFd int, prog *bpf.Program) error {
	old, others, err := attached(dirFd)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range old {
			p.Close()
		}
	}()

	const multi = unix.BPF_F_ALLOW_MULTI

	if len(old) == 1 {
		err := bpf.Attach(dirFd, prog, bpf.AttachCgroupDevice, multi|bpf.FlagReplace, old[0])
		if err == nil {
			return nil
		}
		// E.g. a kernel without BPF_F_REPLACE (< 5.6), or the old
		// program was not attached with BPF_F_ALLOW_MULTI: fall back to
		// attach-then-detach below.
	}

	err = bpf.Attach(dirFd, prog, bpf.AttachCgroupDevice, multi, nil)
	if err != nil && errors.Is(err, unix.EPERM) && len(old) == 1 && others == 0 {
		// The only program is ours, attached without
		// BPF_F_ALLOW_MULTI (by an older kan or someone reusing the
		// name): in that mode a new attach replaces it atomically.
		err = bpf.Attach(dirFd, prog, bpf.AttachCgroupDevice, 0, nil)
		if err == nil {
			return nil
		}
	}
	if err != nil {
		if errors.Is(err, unix.EPERM) && others > 0 {
			return fmt.Errorf("devices: attach program: %w (the cgroup has %d device program(s) of another owner, probably attached without BPF_F_ALLOW_MULTI)", err, others)
		}
		return fmt.Errorf("devices: attach program: %w", err)
	}

	var errs []error
	for _, p := range old {
		if err := bpf.Detach(dirFd, p, bpf.AttachCgroupDevice); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The new program is in force; leftovers only restrict more.
		return fmt.Errorf("devices: new program attached, but detaching the previous one failed: %w", err)
	}
	return nil
}

// attached returns the programs named ProgramName attached directly to the
// cgroup at dirFd (the caller closes them) and how many others are.
func attached(dirFd int) (ours []*bpf.Program, others int, _ error) {
	ids, err := bpf.Query(dirFd, bpf.AttachCgroupDevice)
	if err != nil {
		return nil, 0, fmt.Errorf("devices: query attached programs: %w", err)
	}
	for _, id := range ids {
		p, err := bpf.ByID(id)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // detached and freed since the query
			}
			for _, q := range ours {
				q.Close()
			}
			return nil, 0, fmt.Errorf("devices: open attached program %d: %w", id, err)
		}
		typ, name, err := p.Info()
		if err == nil && typ == bpf.ProgTypeCgroupDevice && name == ProgramName {
			ours = append(ours, p)
			continue
		}
		p.Close()
		others++
	}
	return ours, others, nil
}
