package libcontainer

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPathAboveSurvivesTheChildsShuffle starts /bin/true through
// pathAbove with files laid out as a create with a terminal lays them
// out: high descriptors among them, and one below its place, which the
// child of syscall.StartProcess moves above the highest before it puts
// each in place. The executable's descriptor must survive that (CI caught
// kan executing /proc/self/fd/19 after the child had put a socket there).
func TestPathAboveSurvivesTheChildsShuffle(t *testing.T) {
	exe, err := os.Open("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	defer exe.Close()
	// Two free descriptors next to each other, the higher one where a
	// floor of 2n+2 (n = 6 files) would put the executable.
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var high []int
	for _, fd := range []int{13, 12} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Skipf("fd %d is in use in this test process", fd)
		}
		if err := unix.Dup3(int(null.Fd()), fd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		high = append(high, fd)
	}
	defer func() {
		for _, fd := range high {
			unix.Close(fd)
		}
	}()
	// fd 2 at place 5 is below its place: the child moves it up first.
	files := []uintptr{0, 1, 2, 13, 12, 2}
	path, closeExe, err := (&sealedExe{file: exe}).pathAbove(files)
	if err != nil {
		t.Fatal(err)
	}
	defer closeExe()
	pid, err := syscall.ForkExec(path, []string{"true"}, &syscall.ProcAttr{Files: files})
	if err != nil {
		t.Fatalf("executing %s with files %v: %v", path, files, err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("/bin/true through %s: %v, status %v", path, err, ws)
	}
}

func TestExecFdFloor(t *testing.T) {
	for _, c := range []struct {
		files []uintptr
		want  int
	}{
		{[]uintptr{0, 1, 2}, 3 + 1 + 3 + 1},
		{[]uintptr{0, 1, 2, 18, 5}, 18 + 1 + 5 + 1},
		{nil, 2},
	} {
		if got := execFdFloor(c.files); got != c.want {
			t.Errorf("execFdFloor(%v) = %d, want %d", c.files, got, c.want)
		}
	}
}
