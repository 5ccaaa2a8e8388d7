// Package netdev moves host network interfaces into a container's network
// namespace (linux.netDevices, spec 1.3): renamed as asked, with their
// permanent global addresses carried over (a move drops them) and brought
// up. It speaks rtnetlink directly; the few messages needed do not justify
// a netlink library.
package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/osthread"
)

// Move moves the host interface name into the network namespace at
// nsPath, calls it newName there (the host name when empty; a "%d" in it
// lets the kernel pick a free number), restores its permanent addresses
// of global scope and sets it up.
func Move(name, newName, nsPath string) error {
	if newName == "" {
		newName = name
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	host, err := dial()
	if err != nil {
		return err
	}
	defer host.close()
	inside, err := dialIn(ns)
	if err != nil {
		return err
	}
	defer inside.close()
	return move(host, inside, ns, name, newName, "into the container")
}

// MoveBack undoes Move: the interface called newName (name when empty) in
// the namespace at nsPath goes back to kan's own network namespace as
// name, with its addresses, up. The spec asks for it when create fails
// after the move: a veth would otherwise die with the container's
// namespace, and a physical interface come back under another name.
func MoveBack(name, newName, nsPath string) error {
	if newName == "" {
		newName = name
	}
	ns, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	self, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return err
	}
	defer self.Close()
	inside, err := dialIn(ns)
	if err != nil {
		return err
	}
	defer inside.close()
	host, err := dial()
	if err != nil {
		return err
	}
	defer host.close()
	return move(inside, host, self, newName, name, "back to the host")
}

// move moves interface name from the namespace of the socket from into
// the namespace toNS (whose socket is to), as newName there.
func move(from, to *conn, toNS *os.File, name, newName, where string) error {
	index, err := from.linkIndex(name)
	if err != nil {
		return fmt.Errorf("find interface %s: %w", name, err)
	}
	addrs, err := from.permanentAddrs(index)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", name, err)
	}
	// The kernel moves the interface under its old name, then renames it
	// in the target namespace: a new name taken there fails the request
	// only after the move, and the interface would be lost with the
	// container's namespace. Check first.
	if _, err := to.linkIndex(newName); err == nil {
		return fmt.Errorf("move %s %s as %s: an interface of that name exists there", name, where, newName)
	}
	// One request moves and renames.
	req := linkMsg(index, 0, 0)
	req = addAttr(req, unix.IFLA_NET_NS_FD, u32(uint32(toNS.Fd())))
	req = addAttr(req, unix.IFLA_IFNAME, cstr(newName))
	if err := from.do(unix.RTM_NEWLINK, 0, req); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("move %s %s as %s: an interface of that name exists there", name, where, newName)
		}
		return fmt.Errorf("move %s %s as %s: %w", name, where, newName, err)
	}
	// The kernel keeps the index across the move when it is free in the
	// target, which is how a "%d" name is found again.
	if _, err := to.linkName(index); err != nil {
		if index, err = to.linkIndex(newName); err != nil {
			return fmt.Errorf("find %s after the move: %w", newName, err)
		}
	}
	for _, a := range addrs {
		binary.NativeEndian.PutUint32(a[4:], uint32(index)) // ifa_index
		if err := to.do(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, a); err != nil {
			return fmt.Errorf("restore an address of %s: %w", newName, err)
		}
	}
	if err := to.do(unix.RTM_NEWLINK, 0, linkMsg(index, unix.IFF_UP, unix.IFF_UP)); err != nil {
		return fmt.Errorf("set %s up: %w", newName, err)
	}
	return nil
}

// conn is an rtnetlink socket, bound to the network namespace it was
// created in.
type conn struct {
	fd  int
	seq uint32
}

func dial() (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &conn{fd: fd}, nil
}

// dialIn opens a socket in the network namespace ns: a thread of its own
// enters it to create the socket, which stays bound to it, and is then
// thrown away (osthread.Isolated), so nothing else ever runs there.
func dialIn(ns *os.File) (*conn, error) {
	var c *conn
	err := osthread.Isolated(func() error {
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter the container's network namespace: %w", err)
		}
		var err error
		c, err = dial()
		return err
	})
	return c, err
}

func (c *conn) close() { unix.Close(c.fd) }

// exchange sends one request and returns the payloads of the replies up
// to the end of a dump or the acknowledgement.
func (c *conn) exchange(typ, flags uint16, payload []byte) ([][]byte, error) {
	c.seq++
	hdr := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(payload))
	binary.NativeEndian.PutUint32(hdr[0:], uint32(unix.NLMSG_HDRLEN+len(payload)))
	binary.NativeEndian.PutUint16(hdr[4:], typ)
	binary.NativeEndian.PutUint16(hdr[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(hdr[8:], c.seq)
	if err := unix.Sendto(c.fd, append(hdr, payload...), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out [][]byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return nil, unix.Errno(-errno)
				}
				return out, nil
			default:
				// m.Data points into buf, which the next Recvfrom
				// overwrites: keep a copy.
				out = append(out, append([]byte(nil), m.Data...))
			}
		}
	}
}

func (c *conn) do(typ, flags uint16, payload []byte) error {
	_, err := c.exchange(typ, flags, payload)
	return err
}

func (c *conn) linkIndex(name string) (int, error) {
	replies, err := c.exchange(unix.RTM_GETLINK, 0, addAttr(linkMsg(0, 0, 0), unix.IFLA_IFNAME, cstr(name)))
	if err != nil {
		return 0, err
	}
	if len(replies) == 0 || len(replies[0]) < unix.SizeofIfInfomsg {
		return 0, unix.ENODEV
	}
	return int(int32(binary.NativeEndian.Uint32(replies[0][4:]))), nil
}

func (c *conn) linkName(index int) (string, error) {
	replies, err := c.exchange(unix.RTM_GETLINK, 0, linkMsg(index, 0, 0))
	if err != nil {
		return "", err
	}
	if len(replies) == 0 {
		return "", unix.ENODEV
	}
	for _, a := range attrs(replies[0][unix.SizeofIfInfomsg:]) {
		if a.Attr.Type == unix.IFLA_IFNAME {
			return string(a.Value[:len(a.Value)-1]), nil
		}
	}
	return "", unix.ENODEV
}

// permanentAddrs returns, ready to send as RTM_NEWADDR, the addresses of
// the interface that are permanent and of global scope: those the spec
// says a move must keep.
func (c *conn) permanentAddrs(index int) ([][]byte, error) {
	var out [][]byte
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := make([]byte, unix.SizeofIfAddrmsg)
		req[0] = family
		replies, err := c.exchange(unix.RTM_GETADDR, unix.NLM_F_DUMP, req)
		if err != nil {
			return nil, err
		}
		for _, r := range replies {
			if len(r) < unix.SizeofIfAddrmsg {
				continue
			}
			ifa := (*unix.IfAddrmsg)(unsafe.Pointer(&r[0]))
			if int(ifa.Index) != index || ifa.Scope != unix.RT_SCOPE_UNIVERSE {
				continue
			}
			flags := uint32(ifa.Flags)
			msg := append([]byte{}, r[:unix.SizeofIfAddrmsg]...)
			// Only the addresses themselves go over, not the
			// label (the old name) or lifetimes.
			for _, a := range attrs(r[unix.SizeofIfAddrmsg:]) {
				switch a.Attr.Type {
				case unix.IFA_FLAGS:
					flags = binary.NativeEndian.Uint32(a.Value)
				case unix.IFA_ADDRESS, unix.IFA_LOCAL, unix.IFA_BROADCAST:
					msg = addAttr(msg, a.Attr.Type, a.Value)
				}
			}
			if flags&unix.IFA_F_PERMANENT == 0 {
				continue
			}
			out = append(out, msg)
		}
	}
	return out, nil
}

func linkMsg(index int, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(index)))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

func addAttr(b []byte, typ uint16, value []byte) []byte {
	l := unix.SizeofRtAttr + len(value)
	hdr := make([]byte, unix.SizeofRtAttr)
	binary.NativeEndian.PutUint16(hdr[0:], uint16(l))
	binary.NativeEndian.PutUint16(hdr[2:], typ)
	b = append(append(b, hdr...), value...)
	for len(b)%unix.NLMSG_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

func attrs(b []byte) []syscall.NetlinkRouteAttr {
	// ParseNetlinkRouteAttr wants the whole message; it only looks at
	// the header's type to find where attributes start.
	out, _ := syscall.ParseNetlinkRouteAttr(&syscall.NetlinkMessage{
		Header: syscall.NlMsghdr{Type: unix.RTM_NEWADDR},
		Data:   append(make([]byte, unix.SizeofIfAddrmsg), b...),
	})
	return out
}

func u32(v uint32) []byte {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }
