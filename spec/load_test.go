package spec

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error; nil means no error
	}{
		{
			name: "minimal valid config",
			in:   `{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}, "linux": {}}`,
		},
		{
			name: "unknown fields are allowed",
			in:   `{"ociVersion": "1.3.0", "fromTheFuture": {"x": 1}, "process": {"args": ["sh"], "cwd": "/", "newThing": true}}`,
		},
		{
			name: "syntax error gives line and column",
			in:   "{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"rootfs\"},\n}",
			want: []string{"config.json: invalid JSON at line 4, column 1: invalid character '}'"},
		},
		{
			name: "column counts characters, not bytes",
			in:   `{"hostname": "héllo" ]}`,
			want: []string{"line 1, column 22: invalid character ']'"},
		},
		{
			name: "truncated input points past the end",
			in:   "{\"ociVersion\":",
			want: []string{"invalid JSON at line 1, column 15: unexpected end of JSON input"},
		},
		{
			name: "type error names the field path",
			in:   "{\n  \"process\": {\"user\": {\"uid\": \"x\"}}\n}",
			want: []string{`config.json: field "process.user.uid": cannot use string "x" as uint32`, "line 2, column 31"},
		},
		{
			name: "negative number for an unsigned field",
			in:   `{"process": {"user": {"gid": -1}}}`,
			want: []string{`field "process.user.gid": cannot use number -1 as uint32`},
		},
		{
			name: "type error inside an array",
			in:   `{"mounts": [{"destination": "/x", "options": [true]}]}`,
			want: []string{`field "mounts.options": cannot use bool true as string`},
		},
		{
			name: "object where an array belongs",
			in:   `{"process": {"args": {}}}`,
			want: []string{`field "process.args": cannot use object as []string`},
		},
		{
			name: "long values are shortened",
			in:   `{"process": {"terminal": "` + strings.Repeat("y", 100) + `"}}`,
			want: []string{`field "process.terminal": cannot use string "` + strings.Repeat("y", 39) + `... as bool`},
		},
		{
			name: "not an object",
			in:   `["sh"]`,
			want: []string{"config.json: line 1, column 1: the config must be a JSON object, not array"},
		},
		{
			name: "trailing garbage",
			in:   `{"ociVersion": "1.0.0"} garbage`,
			want: []string{"invalid JSON at line 1, column 25: invalid character 'g' after top-level value"},
		},
		{
			name: "two objects",
			in:   "{}\n{}",
			want: []string{"invalid JSON at line 2, column 1"},
		},
		{
			name: "empty input",
			in:   " \n\t",
			want: []string{"config.json: empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("config.json", []byte(tt.in))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: unexpected error: %v", err)
				}
				if s == nil {
					t.Fatal("Parse returned nil config and nil error")
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse: no error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	s, err := Parse("config.json", []byte(`{"ociVersion": "1.2.0", "process": {"args": ["sh", "-c", "true"], "user": {"uid": 1000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "1.2.0" || len(s.Process.Args) != 3 || s.Process.User.UID != 1000 {
		t.Errorf("Parse decoded %+v", s)
	}
}

// writeBundle makes a bundle directory whose config.json holds data.
func writeBundle(t *testing.T, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func defaultJSON(t testing.TB) []byte {
	t.Helper()
	data, err := json.MarshalIndent(Default(false, 0, 0), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoad(t *testing.T) {
	good := writeBundle(t, defaultJSON(t))
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load of the default config: %v", err)
	}
	if c.Spec.Hostname != "kan" {
		t.Errorf("Load: hostname %q, want kan", c.Spec.Hostname)
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	noConfig := t.TempDir()

	fifo := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(fifo, "config.json"), 0o644); err != nil {
		t.Fatal(err)
	}

	dirConfig := t.TempDir()
	if err := os.Mkdir(filepath.Join(dirConfig, "config.json"), 0o755); err != nil {
		t.Fatal(err)
	}

	device := t.TempDir()
	if err := os.Symlink("/dev/null", filepath.Join(device, "config.json")); err != nil {
		t.Fatal(err)
	}

	// A sparse file: big in size, cheap on disk.
	huge := t.TempDir()
	f, err := os.Create(filepath.Join(huge, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxConfigSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	badJSON := writeBundle(t, []byte("{\n\"ociVersion\": 1\n}"))

	tests := []struct {
		name     string
		bundle   string
		want     []string
		notExist bool
	}{
		{"missing bundle", missing, []string{"bundle " + missing}, true},
		{"bundle is a file", notDir, []string{"bundle " + notDir + ": not a directory"}, false},
		{"missing config.json", noConfig, []string{"open bundle config " + filepath.Join(noConfig, "config.json") + ": no such file or directory"}, true},
		{"config.json is a FIFO", fifo, []string{filepath.Join(fifo, "config.json"), "not a regular file (a FIFO)"}, false},
		{"config.json is a directory", dirConfig, []string{filepath.Join(dirConfig, "config.json"), "not a regular file (a directory)"}, false},
		{"config.json is a device", device, []string{filepath.Join(device, "config.json"), "not a regular file (a character device)"}, false},
		{"config.json too large", huge, []string{"4194305 bytes", "limit of 4194304 bytes"}, false},
		{"invalid JSON", badJSON, []string{filepath.Join(badJSON, "config.json") + `: field "ociVersion": cannot use number 1 as string`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A FIFO opened without O_NONBLOCK would block forever;
			// fail instead of hanging the test binary.
			done := make(chan error, 1)
			go func() {
				_, err := Load(tt.bundle)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocked")
			}
			if err == nil {
				t.Fatalf("Load(%s): no error", tt.bundle)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q\ndoes not contain %q", err, w)
				}
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, got, tt.notExist)
			}
		})
	}
}

// TestLoadAtLimit checks that a config of exactly MaxConfigSize bytes is
// accepted: the limit is inclusive.
func TestLoadAtLimit(t *testing.T) {
	data := defaultJSON(t)
	data = append(data, []byte(strings.Repeat(" ", MaxConfigSize-len(data)))...)
	if _, err := Load(writeBundle(t, data)); err != nil {
		t.Fatalf("Load of a %d-byte config: %v", len(data), err)
	}
}
