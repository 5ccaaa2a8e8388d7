package rootfs

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// options is a mount's option list sorted into what the kernel wants:
// flags for mount(2), propagation changes (each its own mount(2) call),
// recursive attributes for mount_setattr(2), and filesystem data.
type options struct {
	flags       uintptr // MS_* to set
	cleared     uintptr // MS_* the options explicitly turn off
	propagation []uintptr
	attrSet     uint64 // MOUNT_ATTR_* to set recursively
	attrClr     uint64 // MOUNT_ATTR_* to clear recursively
	copyUp      bool   // tmpcopyup: fill the new tmpfs from the directory under it
	data        []string
}

type flagOpt struct {
	clear bool
	flag  uintptr
}

var flagOpts = map[string]flagOpt{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
	"iversion":      {false, unix.MS_I_VERSION},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
}

var propagationOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

type attrOpt struct {
	clear bool
	attr  uint64
}

// Recursive attributes (spec 1.1): applied to the mount and every mount
// below it with mount_setattr(AT_RECURSIVE).
var attrOpts = map[string]attrOpt{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// The atime attributes are one field, not bits: setting one clears the others.
var atimeOpts = map[string]uint64{
	"rrelatime":    unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":  unix.MOUNT_ATTR_RELATIME, // cleared below
	"rnoatime":     unix.MOUNT_ATTR_NOATIME,
	"ratime":       unix.MOUNT_ATTR_NOATIME, // cleared below
	"rstrictatime": unix.MOUNT_ATTR_STRICTATIME,
}

// parseOptions sorts a mount's options. Options kan does not implement yet
// are errors, never silently dropped.
func parseOptions(opts []string) (*options, error) {
	o := &options{}
	for _, opt := range opts {
		if f, ok := flagOpts[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.cleared |= f.flag
			} else {
				o.flags |= f.flag
				o.cleared &^= f.flag
			}
			continue
		}
		if p, ok := propagationOpts[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if a, ok := attrOpts[opt]; ok {
			if a.clear {
				o.attrClr |= a.attr
				o.attrSet &^= a.attr
			} else {
				o.attrSet |= a.attr
				o.attrClr &^= a.attr
			}
			continue
		}
		if a, ok := atimeOpts[opt]; ok {
			o.attrClr |= unix.MOUNT_ATTR__ATIME
			o.attrSet &^= unix.MOUNT_ATTR__ATIME
			if opt != "rnorelatime" && opt != "ratime" {
				o.attrSet |= a
			}
			continue
		}
		switch opt {
		case "idmap", "ridmap":
			// Done by IDMappedTree before the mount reaches the init.
			continue
		case "tmpcopyup":
			o.copyUp = true
			continue
		case "":
			return nil, fmt.Errorf("empty mount option")
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

func (o *options) isBind() bool { return o.flags&unix.MS_BIND != 0 }

func (o *options) dataString() string { return strings.Join(o.data, ",") }

// MountOptions lists every option word kan understands, for `kan features`.
func MountOptions() []string {
	var out []string
	for o := range flagOpts {
		out = append(out, o)
	}
	for o := range propagationOpts {
		out = append(out, o)
	}
	for o := range attrOpts {
		out = append(out, o)
	}
	for o := range atimeOpts {
		out = append(out, o)
	}
	out = append(out, "idmap", "ridmap", "tmpcopyup")
	slices.Sort(out)
	return out
}
