package criu

// The messages of criu's RPC interface that kan sends and reads, encoded
// by hand: criu_req, criu_opts and the messages in them one way,
// criu_resp the other (criu's images/rpc.proto; the field numbers below
// are its; the wire format is wire.go's). A generated protobuf package
// (go-criu's rpc) registers its descriptors when the program starts,
// which every kan command would pay for. Only the fields kan uses are
// here: an unknown field criu sends is skipped.

import "fmt"

// ReqType is criu_req_type.
type ReqType int32

// The request types kan uses.
const (
	ReqDump    ReqType = 1
	ReqRestore ReqType = 2
	ReqPreDump ReqType = 4
	ReqNotify  ReqType = 6
)

// String is the type's name, lower case, as criu's command line says it.
func (t ReqType) String() string {
	switch t {
	case ReqDump:
		return "dump"
	case ReqRestore:
		return "restore"
	case ReqPreDump:
		return "pre_dump"
	case ReqNotify:
		return "notify"
	}
	return fmt.Sprintf("request type %d", int32(t))
}

// CgMode is criu_cg_mode.
type CgMode int32

// The modes --manage-cgroups-mode can name.
const (
	CgIgnore  CgMode = 0
	CgSoft    CgMode = 3
	CgFull    CgMode = 4
	CgStrict  CgMode = 5
	CgDefault CgMode = 6
)

// Opts is criu_opts. A bool is always sent, false too: an explicit
// false overrides a criu configuration file (/etc/criu/default.conf),
// so that a request means the same on every host, as runc's. A string
// is sent when not empty, Pid when not 0, a *Fd field when >= 0 (fd 0
// is a file like another); the rest always.
type Opts struct {
	ImagesDirFd       int32        // images_dir_fd = 1
	Pid               int32        // pid = 2
	LeaveRunning      bool         // leave_running = 3
	ExtUnixSk         bool         // ext_unix_sk = 4
	TCPEstablished    bool         // tcp_established = 5
	EvasiveDevices    bool         // evasive_devices = 6
	ShellJob          bool         // shell_job = 7
	FileLocks         bool         // file_locks = 8
	LogLevel          int32        // log_level = 9
	LogFile           string       // log_file = 10
	PageServer        *PageServer  // ps = 11
	NotifyScripts     bool         // notify_scripts = 12
	Root              string       // root = 13
	ParentImg         string       // parent_img = 14
	TrackMem          bool         // track_mem = 15
	AutoDedup         bool         // auto_dedup = 16
	WorkDirFd         int32        // work_dir_fd = 17
	LinkRemap         bool         // link_remap = 18
	ExtMnt            []ExtMount   // ext_mnt = 23
	ManageCgroups     bool         // manage_cgroups = 24
	CgRoot            []CgroupRoot // cg_root = 25
	RstSibling        bool         // rst_sibling = 26
	InheritFd         []InheritFd  // inherit_fd = 27
	ManageCgroupsMode CgMode       // manage_cgroups_mode = 34
	External          []string     // external = 37
	EmptyNs           uint32       // empty_ns = 38
	JoinNs            []JoinNs     // join_ns = 39
	FreezeCgroup      string       // freeze_cgroup = 44
	TCPSkipInFlight   bool         // tcp_skip_in_flight = 46
	LazyPages         bool         // lazy_pages = 48
	StatusFd          int32        // status_fd = 49
	OrphanPtsMaster   bool         // orphan_pts_master = 50
	LsmProfile        string       // lsm_profile = 53
	LsmMountContext   string       // lsm_mount_context = 63
}

// PageServer is criu_page_server_info: where a dump sends its memory.
type PageServer struct {
	Address string // address = 1
	Port    int32  // port = 2
}

// ExtMount is ext_mount_map: a mount criu records (Key) or restores
// from (Val) outside the container.
type ExtMount struct{ Key, Val string }

// CgroupRoot is cgroup_root: the cgroup, for every controller, the
// restored tree's root goes to.
type CgroupRoot struct{ Path string }

// InheritFd is inherit_fd: criu's fd Fd stands for the file Key names
// in the images.
type InheritFd struct {
	Key string
	Fd  int32
}

// JoinNs is join_namespace: a namespace (Ns: "net", "ipc", ...) the
// restored tree joins, by path.
type JoinNs struct{ Ns, NsFile string }

// reqMsg is criu_req.
type reqMsg struct {
	Type          ReqType // type = 1
	Opts          *Opts   // opts = 2
	NotifySuccess bool    // notify_success = 3, sent when true
}

// respMsg is criu_resp, the fields kan reads.
type respMsg struct {
	Type       ReqType // type = 1
	Success    bool    // success = 2
	RestorePid int32   // restore = 4: criu_restore_resp.pid = 1
	Notify     Notify  // notify = 5
	CrErrno    int32   // cr_errno = 7
	CrErrmsg   string  // cr_errmsg = 9
}

// Notify is criu_notify: a moment of criu's work (Script:
// "setup-namespaces", "post-restore", ...) about process Pid.
type Notify struct {
	Script string // script = 1
	Pid    int32  // pid = 2
}

// marshal is r's wire encoding.
func (r *reqMsg) marshal() []byte {
	var b []byte
	b = appendVarint(b, 1, uint64(r.Type))
	if r.Opts != nil {
		b = appendMessage(b, 2, r.Opts.marshal())
	}
	if r.NotifySuccess {
		b = appendBool(b, 3, true)
	}
	return b
}

func (o *Opts) marshal() []byte {
	var b []byte
	b = appendInt32(b, 1, o.ImagesDirFd)
	if o.Pid != 0 {
		b = appendInt32(b, 2, o.Pid)
	}
	b = appendBool(b, 3, o.LeaveRunning)
	b = appendBool(b, 4, o.ExtUnixSk)
	b = appendBool(b, 5, o.TCPEstablished)
	b = appendBool(b, 6, o.EvasiveDevices)
	b = appendBool(b, 7, o.ShellJob)
	b = appendBool(b, 8, o.FileLocks)
	b = appendInt32(b, 9, o.LogLevel)
	b = appendString(b, 10, o.LogFile)
	if ps := o.PageServer; ps != nil {
		var m []byte
		m = appendString(m, 1, ps.Address)
		m = appendInt32(m, 2, ps.Port)
		b = appendMessage(b, 11, m)
	}
	b = appendBool(b, 12, o.NotifyScripts)
	b = appendString(b, 13, o.Root)
	b = appendString(b, 14, o.ParentImg)
	b = appendBool(b, 15, o.TrackMem)
	b = appendBool(b, 16, o.AutoDedup)
	if o.WorkDirFd >= 0 {
		b = appendInt32(b, 17, o.WorkDirFd)
	}
	b = appendBool(b, 18, o.LinkRemap)
	for _, m := range o.ExtMnt {
		// Both fields are required: sent even when empty.
		b = appendMessage(b, 23, appendRequiredString(appendRequiredString(nil, 1, m.Key), 2, m.Val))
	}
	b = appendBool(b, 24, o.ManageCgroups)
	for _, c := range o.CgRoot {
		b = appendMessage(b, 25, appendRequiredString(nil, 2, c.Path))
	}
	b = appendBool(b, 26, o.RstSibling)
	for _, f := range o.InheritFd {
		b = appendMessage(b, 27, appendInt32(appendRequiredString(nil, 1, f.Key), 2, f.Fd))
	}
	b = appendInt32(b, 34, int32(o.ManageCgroupsMode))
	for _, e := range o.External {
		b = appendRequiredString(b, 37, e)
	}
	b = appendVarint(b, 38, uint64(o.EmptyNs))
	for _, j := range o.JoinNs {
		b = appendMessage(b, 39, appendRequiredString(appendRequiredString(nil, 1, j.Ns), 2, j.NsFile))
	}
	b = appendString(b, 44, o.FreezeCgroup)
	b = appendBool(b, 46, o.TCPSkipInFlight)
	b = appendBool(b, 48, o.LazyPages)
	if o.StatusFd >= 0 {
		b = appendInt32(b, 49, o.StatusFd)
	}
	b = appendBool(b, 50, o.OrphanPtsMaster)
	b = appendString(b, 53, o.LsmProfile)
	b = appendString(b, 63, o.LsmMountContext)
	return b
}

func appendVarint(b []byte, num number, v uint64) []byte {
	return putVarint(putTag(b, num, varintType), v)
}

// appendInt32 encodes an int32 as protobuf does: a negative one as its
// 64-bit two's complement (ten bytes).
func appendInt32(b []byte, num number, v int32) []byte {
	return appendVarint(b, num, uint64(int64(v)))
}

func appendBool(b []byte, num number, v bool) []byte {
	if v {
		return appendVarint(b, num, 1)
	}
	return appendVarint(b, num, 0)
}

// appendString leaves out an empty string: an optional field unset.
func appendString(b []byte, num number, s string) []byte {
	if s == "" {
		return b
	}
	return appendRequiredString(b, num, s)
}

func appendRequiredString(b []byte, num number, s string) []byte {
	return append(putVarint(putTag(b, num, bytesType), uint64(len(s))), s...)
}

func appendMessage(b []byte, num number, m []byte) []byte {
	return append(putVarint(putTag(b, num, bytesType), uint64(len(m))), m...)
}

// unmarshal decodes a criu_resp into r.
func (r *respMsg) unmarshal(b []byte) error {
	*r = respMsg{}
	return eachField(b, func(num number, typ wireType, v uint64, m []byte) error {
		switch {
		case num == 1 && typ == varintType:
			r.Type = ReqType(int32(v))
		case num == 2 && typ == varintType:
			r.Success = v != 0
		case num == 4 && typ == bytesType:
			return eachField(m, func(num number, typ wireType, v uint64, _ []byte) error {
				if num == 1 && typ == varintType {
					r.RestorePid = int32(v)
				}
				return nil
			})
		case num == 5 && typ == bytesType:
			return eachField(m, func(num number, typ wireType, v uint64, s []byte) error {
				switch {
				case num == 1 && typ == bytesType:
					r.Notify.Script = string(s)
				case num == 2 && typ == varintType:
					r.Notify.Pid = int32(v)
				}
				return nil
			})
		case num == 7 && typ == varintType:
			r.CrErrno = int32(v)
		case num == 9 && typ == bytesType:
			r.CrErrmsg = string(m)
		}
		return nil
	})
}
