package criu

// kan's encoding of criu's RPC messages, checked against go-criu's
// generated ones (test-only: the kan binary does not link go-criu).

import (
	"reflect"
	"testing"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fullOpts sets every field of Opts to a value other than its zero, a
// negative one where the field is an int32, so that a field the encoder
// forgets, or misnumbers, shows.
func fullOpts() *Opts {
	return &Opts{
		ImagesDirFd:       -1,
		Pid:               4242,
		LeaveRunning:      true,
		ExtUnixSk:         true,
		TCPEstablished:    true,
		EvasiveDevices:    true,
		ShellJob:          true,
		FileLocks:         true,
		LogLevel:          -4,
		LogFile:           "dump.log",
		PageServer:        &PageServer{Address: "192.0.2.1", Port: 27182},
		NotifyScripts:     true,
		Root:              "/run/kan/c1/criu-root",
		ParentImg:         "../pre",
		TrackMem:          true,
		AutoDedup:         true,
		WorkDirFd:         7,
		LinkRemap:         true,
		ExtMnt:            []ExtMount{{"/data", "/srv/data"}, {"/dev/null", "/dev/null"}, {"", ""}},
		ManageCgroups:     true,
		CgRoot:            []CgroupRoot{{"/kan/c1"}, {""}},
		RstSibling:        true,
		InheritFd:         []InheritFd{{"extRootNetNS", 4}, {"pipe:[1234]", 0}, {"neg", -2}},
		ManageCgroupsMode: CgStrict,
		External:          []string{"net[4026531840]:extRootNetNS", ""},
		EmptyNs:           0x40000000,
		JoinNs:            []JoinNs{{"ipc", "/proc/1/ns/ipc"}, {"uts", "/run/netns/x"}},
		FreezeCgroup:      "/sys/fs/cgroup/kan/c1",
		TCPSkipInFlight:   true,
		LazyPages:         true,
		StatusFd:          3, // < 0 is "not sent"
		OrphanPtsMaster:   true,
		LsmProfile:        "apparmor:kan-default",
		LsmMountContext:   "system_u:object_r:container_file_t:s0",
	}
}

// The same, as go-criu says it.
func fullOptsWant() *rpc.CriuOpts {
	return &rpc.CriuOpts{
		ImagesDirFd:     proto.Int32(-1),
		Pid:             proto.Int32(4242),
		LeaveRunning:    proto.Bool(true),
		ExtUnixSk:       proto.Bool(true),
		TcpEstablished:  proto.Bool(true),
		EvasiveDevices:  proto.Bool(true),
		ShellJob:        proto.Bool(true),
		FileLocks:       proto.Bool(true),
		LogLevel:        proto.Int32(-4),
		LogFile:         proto.String("dump.log"),
		Ps:              &rpc.CriuPageServerInfo{Address: proto.String("192.0.2.1"), Port: proto.Int32(27182)},
		NotifyScripts:   proto.Bool(true),
		Root:            proto.String("/run/kan/c1/criu-root"),
		ParentImg:       proto.String("../pre"),
		TrackMem:        proto.Bool(true),
		AutoDedup:       proto.Bool(true),
		WorkDirFd:       proto.Int32(7),
		LinkRemap:       proto.Bool(true),
		ManageCgroups:   proto.Bool(true),
		RstSibling:      proto.Bool(true),
		EmptyNs:         proto.Uint32(0x40000000),
		FreezeCgroup:    proto.String("/sys/fs/cgroup/kan/c1"),
		TcpSkipInFlight: proto.Bool(true),
		LazyPages:       proto.Bool(true),
		StatusFd:        proto.Int32(3),
		OrphanPtsMaster: proto.Bool(true),
		LsmProfile:      proto.String("apparmor:kan-default"),
		LsmMountContext: proto.String("system_u:object_r:container_file_t:s0"),
		ExtMnt: []*rpc.ExtMountMap{
			{Key: proto.String("/data"), Val: proto.String("/srv/data")},
			{Key: proto.String("/dev/null"), Val: proto.String("/dev/null")},
			{Key: proto.String(""), Val: proto.String("")},
		},
		CgRoot: []*rpc.CgroupRoot{{Path: proto.String("/kan/c1")}, {Path: proto.String("")}},
		InheritFd: []*rpc.InheritFd{
			{Key: proto.String("extRootNetNS"), Fd: proto.Int32(4)},
			{Key: proto.String("pipe:[1234]"), Fd: proto.Int32(0)},
			{Key: proto.String("neg"), Fd: proto.Int32(-2)},
		},
		ManageCgroupsMode: rpc.CriuCgMode_STRICT.Enum(),
		External:          []string{"net[4026531840]:extRootNetNS", ""},
		JoinNs: []*rpc.JoinNamespace{
			{Ns: proto.String("ipc"), NsFile: proto.String("/proc/1/ns/ipc")},
			{Ns: proto.String("uts"), NsFile: proto.String("/run/netns/x")},
		},
	}
}

// sameFields reports each field, at any depth, that one message has and
// not the other, or with another value.
func sameFields(t *testing.T, path string, want, got protoreflect.Message) {
	t.Helper()
	if len(got.GetUnknown()) > 0 {
		t.Errorf("%s: fields go-criu does not know: %x", path, got.GetUnknown())
	}
	fields := want.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := path + "." + string(fd.Name())
		if want.Has(fd) != got.Has(fd) {
			t.Errorf("%s: sent %v, want %v", name, got.Has(fd), want.Has(fd))
			continue
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			wl, gl := want.Get(fd).List(), got.Get(fd).List()
			if wl.Len() != gl.Len() {
				t.Errorf("%s: %d entries, want %d", name, gl.Len(), wl.Len())
				continue
			}
			for j := 0; j < wl.Len(); j++ {
				sameFields(t, name+"["+string(rune('0'+j))+"]", wl.Get(j).Message(), gl.Get(j).Message())
			}
		case fd.Message() != nil:
			if want.Has(fd) {
				sameFields(t, name, want.Get(fd).Message(), got.Get(fd).Message())
			}
		default:
			if !want.Get(fd).Equal(got.Get(fd)) {
				t.Errorf("%s: %v, want %v", name, got.Get(fd), want.Get(fd))
			}
		}
	}
}

func decodeReq(t *testing.T, r *reqMsg) *rpc.CriuReq {
	t.Helper()
	got := &rpc.CriuReq{}
	// Not partial: the required fields (type, images_dir_fd, ext_mnt's
	// key and val, ...) must be there, or criu refuses the request.
	if err := proto.Unmarshal(r.marshal(), got); err != nil {
		t.Fatalf("go-criu cannot decode the request: %v", err)
	}
	return got
}

// Every field of Opts is set by fullOpts: one added to Opts without a
// test value shows here.
func TestFullOptsSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(*fullOpts())
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Errorf("fullOpts leaves %s zero", v.Type().Field(i).Name)
		}
	}
}

func TestRequestAsGoCriuDecodesIt(t *testing.T) {
	for _, typ := range []ReqType{ReqDump, ReqPreDump, ReqRestore} {
		got := decodeReq(t, &reqMsg{Type: typ, Opts: fullOpts()})
		want := &rpc.CriuReq{Type: rpc.CriuReqType(typ).Enum(), Opts: fullOptsWant()}
		sameFields(t, "criu_req", want.ProtoReflect(), got.ProtoReflect())
		if t.Failed() {
			t.Logf("sent:\n%v\nwant:\n%v", got, want)
			return
		}
	}
}

// Zero values: a bool is sent false (an explicit false overrides
// criu's configuration file), the cgroup mode IGNORE (0) is sent, an
// empty string, a pid 0 and an fd -1 are not; fd 0 is.
func TestRequestZeroValues(t *testing.T) {
	got := decodeReq(t, &reqMsg{Type: ReqDump, Opts: &Opts{WorkDirFd: -1, StatusFd: -1}})
	f := false
	want := &rpc.CriuReq{Type: rpc.CriuReqType_DUMP.Enum(), Opts: &rpc.CriuOpts{
		ImagesDirFd: proto.Int32(0), LeaveRunning: &f, ExtUnixSk: &f, TcpEstablished: &f,
		EvasiveDevices: &f, ShellJob: &f, FileLocks: &f, LogLevel: proto.Int32(0),
		NotifyScripts: &f, TrackMem: &f, AutoDedup: &f, LinkRemap: &f, ManageCgroups: &f,
		RstSibling: &f, ManageCgroupsMode: rpc.CriuCgMode_IGNORE.Enum(), EmptyNs: proto.Uint32(0),
		TcpSkipInFlight: &f, LazyPages: &f, OrphanPtsMaster: &f,
	}}
	sameFields(t, "criu_req", want.ProtoReflect(), got.ProtoReflect())

	got = decodeReq(t, &reqMsg{Type: ReqDump, Opts: &Opts{WorkDirFd: 0, StatusFd: 0}})
	if got.GetOpts().WorkDirFd == nil || got.GetOpts().StatusFd == nil {
		t.Errorf("fd 0 not sent: work_dir_fd %v, status_fd %v", got.GetOpts().WorkDirFd, got.GetOpts().StatusFd)
	}
}

// The notification's answer: type NOTIFY, notify_success, no opts.
func TestNotifyAck(t *testing.T) {
	got := decodeReq(t, &reqMsg{Type: ReqNotify, NotifySuccess: true})
	want := &rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: proto.Bool(true)}
	sameFields(t, "criu_req", want.ProtoReflect(), got.ProtoReflect())
	// Without notify_success, nothing but the type.
	if b := (&reqMsg{Type: ReqDump}).marshal(); len(b) != 2 {
		t.Errorf("bare request: %x", b)
	}
}

func TestReqTypesAreCriuS(t *testing.T) {
	for typ, want := range map[ReqType]rpc.CriuReqType{
		ReqDump: rpc.CriuReqType_DUMP, ReqRestore: rpc.CriuReqType_RESTORE,
		ReqPreDump: rpc.CriuReqType_PRE_DUMP, ReqNotify: rpc.CriuReqType_NOTIFY,
	} {
		if int32(typ) != int32(want) {
			t.Errorf("%s is %d, criu's %d", typ, typ, want)
		}
		if typ.String() != map[rpc.CriuReqType]string{1: "dump", 2: "restore", 4: "pre_dump", 6: "notify"}[want] {
			t.Errorf("%d is called %q", typ, typ)
		}
	}
	for mode, want := range map[string]rpc.CriuCgMode{
		"": rpc.CriuCgMode_DEFAULT, "soft": rpc.CriuCgMode_SOFT, "full": rpc.CriuCgMode_FULL,
		"strict": rpc.CriuCgMode_STRICT, "ignore": rpc.CriuCgMode_IGNORE,
	} {
		if m, _ := CgroupsMode(mode); int32(m) != int32(want) {
			t.Errorf("--manage-cgroups-mode %q is %d, criu's %s is %d", mode, m, want, want)
		}
	}
}

func decodeResp(t *testing.T, m *rpc.CriuResp) respMsg {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var r respMsg
	if err := r.unmarshal(b); err != nil {
		t.Fatalf("%v: %v", m, err)
	}
	return r
}

func TestResponseFromGoCriu(t *testing.T) {
	for _, c := range []struct {
		resp *rpc.CriuResp
		want respMsg
	}{
		// A notification, with every field criu_resp has besides:
		// those kan does not read are skipped.
		{&rpc.CriuResp{
			Type: rpc.CriuReqType_NOTIFY.Enum(), Success: proto.Bool(true),
			Dump:     &rpc.CriuDumpResp{Restored: proto.Bool(true)},
			Restore:  &rpc.CriuRestoreResp{Pid: proto.Int32(77)},
			Notify:   &rpc.CriuNotify{Script: proto.String("post-restore"), Pid: proto.Int32(4321)},
			Ps:       &rpc.CriuPageServerInfo{Address: proto.String("a"), Port: proto.Int32(1), Pid: proto.Int32(2), Fd: proto.Int32(3)},
			CrErrno:  proto.Int32(0),
			Features: &rpc.CriuFeatures{MemTrack: proto.Bool(true), LazyPages: proto.Bool(true)},
			CrErrmsg: proto.String(""),
			Version:  &rpc.CriuVersion{MajorNumber: proto.Int32(4), MinorNumber: proto.Int32(1), Gitid: proto.String("g")},
			Status:   proto.Int32(-9),
		}, respMsg{Type: ReqNotify, Success: true, RestorePid: 77, Notify: Notify{Script: "post-restore", Pid: 4321}}},
		// A failure: negative numbers are int32 sign-extended.
		{&rpc.CriuResp{
			Type: rpc.CriuReqType_RESTORE.Enum(), Success: proto.Bool(false),
			CrErrno: proto.Int32(-1), CrErrmsg: proto.String("Can't restore: no such file"),
			Notify: &rpc.CriuNotify{Pid: proto.Int32(-5)},
		}, respMsg{Type: ReqRestore, CrErrno: -1, CrErrmsg: "Can't restore: no such file", Notify: Notify{Pid: -5}}},
		{&rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: proto.Bool(false), CrErrno: proto.Int32(16)},
			respMsg{Type: ReqDump, CrErrno: 16}},
		// Zero values, and nothing at all.
		{&rpc.CriuResp{Type: rpc.CriuReqType_EMPTY.Enum(), Success: proto.Bool(false), Notify: &rpc.CriuNotify{}, Restore: &rpc.CriuRestoreResp{Pid: proto.Int32(0)}},
			respMsg{}},
		{&rpc.CriuResp{}, respMsg{}},
		// A type kan does not know keeps its number.
		{&rpc.CriuResp{Type: rpc.CriuReqType_SINGLE_PRE_DUMP.Enum(), Success: proto.Bool(true)},
			respMsg{Type: 13, Success: true}},
	} {
		if got := decodeResp(t, c.resp); got != c.want {
			t.Errorf("%v:\ndecoded %+v\nwant    %+v", c.resp, got, c.want)
		}
	}
}

// Fields of wire types go-criu's criu_resp does not use (fixed32,
// fixed64, groups, from a later criu) are skipped; a truncated message
// is an error, not a half-read answer.
func TestResponseSkipsUnknownAndRefusesTruncated(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 100, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 0xdeadbeef)
	b = protowire.AppendTag(b, 101, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 1)
	b = protowire.AppendTag(b, 102, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	b = protowire.AppendTag(b, 102, protowire.EndGroupType)
	// A known number with an unexpected wire type is skipped too.
	b = protowire.AppendTag(b, 9, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 1)
	resp, _ := proto.Marshal(&rpc.CriuResp{Type: rpc.CriuReqType_DUMP.Enum(), Success: proto.Bool(true), CrErrmsg: proto.String("m")})
	b = append(b, resp...)
	var r respMsg
	if err := r.unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if want := (respMsg{Type: ReqDump, Success: true, CrErrmsg: "m"}); r != want {
		t.Errorf("decoded %+v, want %+v", r, want)
	}

	full, _ := proto.Marshal(&rpc.CriuResp{Type: rpc.CriuReqType_NOTIFY.Enum(), Success: proto.Bool(true),
		Notify: &rpc.CriuNotify{Script: proto.String("setup-namespaces"), Pid: proto.Int32(9)}})
	for n := 1; n < len(full); n++ {
		var r respMsg
		// Cut at a field's end, the message is whole (shorter).
		if err := r.unmarshal(full[:n]); err == nil && n != 2 && n != 4 {
			t.Errorf("truncated at %d of %d: decoded %+v", n, len(full), r)
		}
	}
}

// The varints, against protobuf's own wire package.
func TestVarint(t *testing.T) {
	minus1, minInt32 := int64(-1), int64(-2147483648)
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<32 - 1, uint64(minus1), uint64(minInt32), 1<<63 + 5} {
		b := putVarint(nil, v)
		if want := protowire.AppendVarint(nil, v); string(b) != string(want) {
			t.Errorf("%d: %x, want %x", v, b, want)
		}
		if got, n := varint(append(b, 0xff)); got != v || n != len(b) {
			t.Errorf("%x: %d (%d bytes), want %d (%d)", b, got, n, v, len(b))
		}
		if _, n := varint(b[:len(b)-1]); n >= 0 {
			t.Errorf("%x cut short: read %d bytes", b, n)
		}
	}
	// Eleven bytes, or a tenth beyond 64 bits: not a varint.
	for _, b := range [][]byte{
		{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
	} {
		if _, n := varint(b); n >= 0 {
			t.Errorf("%x read as a varint", b)
		}
	}
}

// A group nested in a group is skipped whole; a group closed by another
// number, a field number 0, or an unknown wire type is malformed.
func TestFieldGroups(t *testing.T) {
	var g []byte
	g = protowire.AppendTag(g, 5, protowire.StartGroupType)
	g = protowire.AppendTag(g, 6, protowire.StartGroupType)
	g = protowire.AppendTag(g, 1, protowire.BytesType)
	g = protowire.AppendString(g, "x")
	g = protowire.AppendTag(g, 6, protowire.EndGroupType)
	g = protowire.AppendTag(g, 5, protowire.EndGroupType)
	if _, _, _, _, n := field(append(g, 0x08, 0x01)); n != len(g) {
		t.Errorf("group of %d bytes read as %d", len(g), n)
	}
	if want := protowire.ConsumeFieldValue(5, protowire.StartGroupType, g[1:]); want+1 != len(g) {
		t.Fatalf("protowire reads the group as %d bytes", want+1)
	}
	bad := append(protowire.AppendTag(nil, 5, protowire.StartGroupType), protowire.AppendTag(nil, 7, protowire.EndGroupType)...)
	for _, b := range [][]byte{bad, {0x00, 0x01}, {0x0e, 0x01}, protowire.AppendTag(nil, 3, protowire.EndGroupType)} {
		var r respMsg
		if err := r.unmarshal(b); err == nil {
			t.Errorf("%x decoded: %+v", b, r)
		}
	}
}
