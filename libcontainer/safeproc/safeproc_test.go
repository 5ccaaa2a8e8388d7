package safeproc

import (
	"os"
	"strings"
	"testing"
)

func TestSelfFdPath(t *testing.T) {
	f, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := SelfFdPath(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, "/proc/self/fd/") {
		t.Fatalf("SelfFdPath: %q", p)
	}
	if target, err := os.Readlink(p); err != nil || target != "/" {
		t.Fatalf("%s links to %q (%v), want /", p, target, err)
	}
}
