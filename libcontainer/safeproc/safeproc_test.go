package safeproc

import (
	"os"
	"strings"
	"testing"
)

func TestWriteSelfAndThreadSelf(t *testing.T) {
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Skip(err)
	}
	if err := WriteSelf("oom_score_adj", strings.TrimSpace(string(cur))); err != nil {
		t.Fatal(err)
	}
	if err := WriteSelf("no-such-file", "1"); err == nil {
		t.Fatal("writing a missing procfs file succeeded")
	}
	// The comm of this thread: a per-thread file that exists everywhere.
	if err := WriteThreadSelf("comm", "safeproc-test"); err != nil {
		t.Fatal(err)
	}
}
