package criu

// The protobuf wire format (protobuf.dev/programming-guides/encoding),
// the little of it criu's messages need: a message is a sequence of
// fields, each a tag (field number and wire type, as a varint) and a
// value — a varint, or a length (varint) and that many bytes. Written
// here rather than imported: google.golang.org/protobuf's wire package
// brings its internal/detrand, whose initialisation opens and reads the
// running binary in every kan process (0.1 to 0.2 ms).

import "errors"

type (
	number   int32 // a field's number
	wireType int8
)

const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

var errTruncated = errors.New("criu's message is truncated or malformed")

// putVarint appends v in 7-bit groups, least significant first, the high
// bit set on all but the last.
func putVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func putTag(b []byte, num number, typ wireType) []byte {
	return putVarint(b, uint64(num)<<3|uint64(typ))
}

// varint is the varint b starts with and its length, or a length < 0
// when b holds none (cut short, or longer than 64 bits).
func varint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		if i == 9 && b[i] > 1 {
			return 0, -1
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// field reads the field b starts with: its number, wire type, value (v a
// varint's, m a length-delimited field's bytes) and length, or a length
// < 0 when malformed. A group (deprecated, never in criu's messages) is
// read whole, to be skipped.
func field(b []byte) (num number, typ wireType, v uint64, m []byte, n int) {
	tag, n := varint(b)
	if n < 0 || tag>>3 == 0 || tag>>3 > 1<<29-1 {
		return 0, 0, 0, nil, -1
	}
	num, typ = number(tag>>3), wireType(tag&7)
	rest := b[n:]
	var l int
	switch typ {
	case varintType:
		v, l = varint(rest)
	case fixed32Type, fixed64Type:
		l = 4
		if typ == fixed64Type {
			l = 8
		}
		if len(rest) < l {
			l = -1
		}
	case bytesType:
		size, k := varint(rest)
		if k < 0 || size > uint64(len(rest)-k) {
			return 0, 0, 0, nil, -1
		}
		l = k + int(size)
		m = rest[k:l]
	case startGroupType:
		// Fields until the end-group tag with the same number.
		for l = 0; ; {
			gnum, gtyp, _, _, k := field(rest[l:])
			if k < 0 {
				return 0, 0, 0, nil, -1
			}
			l += k
			if gtyp == endGroupType {
				if gnum != num {
					return 0, 0, 0, nil, -1
				}
				break
			}
		}
	case endGroupType:
		l = 0
	default:
		l = -1
	}
	if l < 0 {
		return 0, 0, 0, nil, -1
	}
	return num, typ, v, m, n + l
}

// eachField calls f for each varint and length-delimited field of the
// message b; other fields are skipped. Of a field repeated, as protobuf
// says, the last one counts (f overwrites).
func eachField(b []byte, f func(num number, typ wireType, v uint64, m []byte) error) error {
	for len(b) > 0 {
		num, typ, v, m, n := field(b)
		if n < 0 || typ == endGroupType {
			return errTruncated
		}
		b = b[n:]
		if typ == varintType || typ == bytesType {
			if err := f(num, typ, v, m); err != nil {
				return err
			}
		}
	}
	return nil
}
