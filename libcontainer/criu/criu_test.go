package criu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCgroupsMode(t *testing.T) {
	for _, m := range []string{"", "soft", "full", "strict", "ignore"} {
		if _, err := CgroupsMode(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	if _, err := CgroupsMode("hard"); err == nil || !strings.Contains(err.Error(), "--manage-cgroups-mode") {
		t.Errorf("hard: %v", err)
	}
}

// Failed quotes the last lines of criu's log that report an error, and
// names the log.
func TestFailedQuotesTheLog(t *testing.T) {
	t.Setenv("PATH", "/nonexistent") // no criu check to add
	log := filepath.Join(t.TempDir(), "dump.log")
	var b strings.Builder
	for i := 0; i < 20; i++ {
		b.WriteString("(00.1) info line\n")
		if i%2 == 0 {
			b.WriteString("(00.2) Error (criu/x.c:1): failure " + strings.Repeat("x", i) + "\n")
		}
	}
	os.WriteFile(log, []byte(b.String()), 0o600)
	err := Failed(errors.New("criu dump failed"), log).Error()
	if !strings.HasPrefix(err, "criu dump failed; criu's log: "+log+"\n") {
		t.Errorf("error: %q", err)
	}
	if n := strings.Count(err, "Error (criu/x.c:1)"); n != 8 {
		t.Errorf("%d error lines quoted, want the last 8: %q", n, err)
	}
	if !strings.Contains(err, "failure "+strings.Repeat("x", 18)) {
		t.Errorf("the last error line is missing: %q", err)
	}
	// No log (criu never started): the path alone.
	if err := Failed(errors.New("e"), filepath.Join(t.TempDir(), "none")).Error(); strings.Contains(err, "\n") {
		t.Errorf("error without a log: %q", err)
	}
}

func TestLogPath(t *testing.T) {
	if p := LogPath("/img", "", "dump.log"); p != "/img/dump.log" {
		t.Error(p)
	}
	if p := LogPath("/img", "/work", "dump.log"); p != "/work/dump.log" {
		t.Error(p)
	}
}
