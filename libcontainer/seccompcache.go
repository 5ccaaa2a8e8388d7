package libcontainer

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// seccompSource is a container's linux.seccomp as create and exec compile
// it: its JSON, and the profile, decoded only when the cache has no
// filter for that JSON.
type seccompSource struct {
	root string // kan's --root, which holds the cache
	*config.Seccomp
}

// seccompCacheDir, under the root, holds compiled filters by a hash of
// the profile's JSON and of kan's executable: Docker's default profile
// takes about half a millisecond to compile, each create and exec. At most
// seccompCacheMax are kept, the oldest removed first.
const (
	seccompCacheDir = ".seccomp"
	seccompCacheMax = 64
	cacheMagic      = 0x6b616e73 // "kans"
)

// compile gives the filter of the source, from the cache or compiled (and
// then cached). A cache that cannot be read or written is compiled past.
func (src *seccompSource) compile() (*seccomp.Filter, error) {
	key := src.key()
	path := ""
	if key != "" && src.root != "" && cacheDirOK(filepath.Join(src.root, seccompCacheDir)) {
		path = filepath.Join(src.root, seccompCacheDir, key)
		if f, err := readCachedFilter(path); err == nil {
			return f, nil
		}
	}
	profile, err := src.Profile()
	if err != nil {
		return nil, err
	}
	f, err := seccomp.Compile(profile, seccomp.Native())
	if err != nil {
		return nil, err
	}
	if path != "" {
		writeCachedFilter(path, f)
	}
	return f, nil
}

// key hashes the profile's JSON, the machine's architectures and kan's
// executable (its device, inode, size and time): another kan may compile
// another way.
func (src *seccompSource) key() string {
	var st unix.Stat_t
	if len(src.JSON) == 0 || unix.Stat("/proc/self/exe", &st) != nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d:%d:%d:%d.%d\n%s\n", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, strings.Join(seccomp.Native().Names(), ","))
	h.Write(src.JSON)
	return hex.EncodeToString(h.Sum(nil))
}

// cacheDirOK tells whether the cache directory may be used: missing (it
// is made 0700), or a directory of kan's user that no one else may write.
func cacheDirOK(dir string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return errors.Is(err, unix.ENOENT)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0
}

// A cached filter: magic, flags, notify, the number of instructions, the
// instructions (struct sock_filter), then the unknown names, one a line.
func writeCachedFilter(path string, f *seccomp.Filter) {
	var b []byte
	b = binary.NativeEndian.AppendUint32(b, cacheMagic)
	b = binary.NativeEndian.AppendUint32(b, uint32(f.Flags))
	notify := uint32(0)
	if f.Notify {
		notify = 1
	}
	b = binary.NativeEndian.AppendUint32(b, notify)
	b = binary.NativeEndian.AppendUint32(b, uint32(len(f.Program)))
	b = seccomp.AppendProgram(b, f.Program)
	b = append(b, strings.Join(f.Unknown, "\n")...)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	evictCachedFilters(dir)
	state.WriteFileAtomic(path, b, 0o600)
}

func readCachedFilter(path string) (*seccomp.Filter, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 16 || binary.NativeEndian.Uint32(b) != cacheMagic {
		return nil, errors.New("not a cached filter")
	}
	if binary.NativeEndian.Uint32(b[4:])&^knownFilterFlags != 0 {
		return nil, errors.New("cached filter with unknown flags")
	}
	n := int(binary.NativeEndian.Uint32(b[12:]))
	if n > seccomp.MaxInstructions || len(b) < 16+8*n {
		return nil, errors.New("truncated cached filter")
	}
	f := &seccomp.Filter{
		Flags:   uint(binary.NativeEndian.Uint32(b[4:])),
		Notify:  binary.NativeEndian.Uint32(b[8:]) != 0,
		Program: seccomp.ReadProgram(b[16:], n),
	}
	if rest := b[16+8*n:]; len(rest) > 0 {
		f.Unknown = strings.Split(string(bytes.TrimSpace(rest)), "\n")
	}
	if err := checkProgram(f.Program); err != nil {
		return nil, err
	}
	return f, nil
}

// knownFilterFlags are the SECCOMP_FILTER_FLAG_* a compiled filter may
// carry.
const knownFilterFlags = seccomp.FlagTsync | seccomp.FlagLog | seccomp.FlagSpecAllow | seccomp.FlagNewListener |
	seccomp.FlagTsyncEsrch | seccomp.FlagWaitKillableRecv

// checkProgram refuses a cached program that is not one the compiler
// makes: empty, with an instruction it does not write, a jump out of the
// program, or one that can run off its end. An entry that fails is
// compiled past, never installed.
func checkProgram(prog []unix.SockFilter) error {
	if len(prog) == 0 {
		return errors.New("empty cached filter")
	}
	for i, in := range prog {
		reach := 0
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			reach = 1
		case unix.BPF_RET | unix.BPF_K:
		case unix.BPF_JMP | unix.BPF_JA:
			reach = 1 + int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			reach = 1 + int(max(in.Jt, in.Jf))
		default:
			return fmt.Errorf("cached filter: instruction %d: unexpected code %#x", i, in.Code)
		}
		if in.Code == unix.BPF_JMP|unix.BPF_JA && in.K >= uint32(len(prog)) || i+reach >= len(prog) && reach > 0 {
			return fmt.Errorf("cached filter: instruction %d leads out of the program", i)
		}
	}
	return nil
}

// evictCachedFilters makes room for one more: the oldest go first.
func evictCachedFilters(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < seccompCacheMax {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.mod, b.mod) })
	for _, a := range all[:len(all)-seccompCacheMax+1] {
		os.Remove(filepath.Join(dir, a.name))
	}
}
