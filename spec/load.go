// Package spec reads, validates and generates the OCI runtime configuration
// (config.json) of a bundle.
//
// The rest of kan reads configs only through Load, so every config it acts
// on has passed Validate and may rely on what Validate guarantees (a
// process, a root, a linux section, known namespace types, and so on).
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MaxConfigSize is the largest config.json Load accepts. Real configs are a
// few kilobytes; the limit keeps a mistaken or hostile bundle from making
// kan read an enormous file into memory.
const MaxConfigSize = 4 << 20

// Load reads and decodes <bundle>/config.json (Decode); libcontainer/config
// checks it (Validate) as it makes kan's model of it.
func Load(bundle string) (*Config, error) {
	fi, err := os.Stat(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, withoutPath(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s: not a directory", bundle)
	}
	path := filepath.Join(bundle, "config.json")
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data)
}

// readConfig reads path, which must be a regular file of at most
// MaxConfigSize bytes. Type and size are checked on the opened descriptor,
// so the file checked is the file read.
func readConfig(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer, and kan would hang before it could report the mistake.
	// O_NOCTTY: a terminal device in its place must not become ours.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open bundle config %s: %w", path, withoutPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("bundle config %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("bundle config %s: not a regular file (%s)", path, describeFileType(st.Mode()))
	}
	if st.Size() > MaxConfigSize {
		return nil, fmt.Errorf("bundle config %s: %d bytes is larger than the limit of %d bytes", path, st.Size(), MaxConfigSize)
	}
	// The file may grow after the fstat; read one byte past the limit so
	// that growth is noticed instead of silently cut off.
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read bundle config %s: %w", path, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("bundle config %s: larger than the limit of %d bytes", path, MaxConfigSize)
	}
	return data, nil
}

// withoutPath drops the operation and path an *os.PathError repeats, for
// messages that name the path already. The cause stays wrapped, so
// errors.Is(err, fs.ErrNotExist) still holds.
func withoutPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func describeFileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}

// Parse decodes config JSON from data; name is used in messages, e.g.
// "config.json". Syntax errors give the line and column, and a value of the
// wrong type names the field's JSON path. Unknown fields are ignored, as
// the runtime spec asks, so configs written for newer spec versions load.
// Unlike Decode, it decodes linux.seccomp too.
func Parse(name string, data []byte) (*specs.Spec, error) {
	c, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	if c.Seccomp != nil {
		// Again from the whole config, for the error's field path and place.
		var s specs.Spec
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, describeJSONError(name, data, err)
		}
		c.Spec.Linux.Seccomp = s.Linux.Seccomp
	}
	return c.Spec, nil
}

func describeJSONError(name string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, including the offending one,
		// except when the input ended early: then point past its end.
		at := syn.Offset - 1
		if syn.Offset >= int64(len(data)) && strings.HasPrefix(syn.Error(), "unexpected end") {
			at = int64(len(data))
		}
		line, col := position(data, at)
		return fmt.Errorf("%s: invalid JSON at line %d, column %d: %v", name, line, col, syn)
	case errors.As(err, &typ):
		start, literal := valueEndingAt(data, typ.Offset)
		line, col := position(data, start)
		what := typ.Value
		if literal != "" && !strings.Contains(what, " ") {
			what += " " + literal
		}
		if typ.Field == "" {
			return fmt.Errorf("%s: line %d, column %d: the config must be a JSON object, not %s", name, line, col, what)
		}
		return fmt.Errorf("%s: field %q: cannot use %s as %s (line %d, column %d)", name, typ.Field, what, typ.Type, line, col)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// valueEndingAt finds the JSON value at a type error's offset and returns
// where it starts and, for a string, number or boolean, its text shortened
// for a message. encoding/json reports a scalar at the byte after its end
// and an object or array just after its opening bracket; if neither fits,
// valueEndingAt returns end and "".
func valueEndingAt(data []byte, end int64) (int64, string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	prev := int64(0)
	for {
		tok, err := dec.Token()
		if err != nil {
			return end, ""
		}
		off := dec.InputOffset()
		if off > end {
			return end, ""
		}
		if off == end {
			if _, isDelim := tok.(json.Delim); isDelim {
				return end - 1, ""
			}
			// Between the previous token and this one there is only
			// white space and the ':' or ',' separators.
			raw := bytes.TrimLeft(data[prev:off], " \t\r\n:,")
			return off - int64(len(raw)), shorten(string(raw))
		}
		prev = off
	}
}

// shorten keeps messages readable when the offending value is long.
func shorten(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "..."
}

// position turns a 0-based byte offset into a 1-based line and column; the
// column counts characters, as editors do, not bytes.
func position(data []byte, offset int64) (line, col int) {
	offset = max(0, min(offset, int64(len(data))))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	col = utf8.RuneCount(before[lineStart:]) + 1
	return line, col
}
