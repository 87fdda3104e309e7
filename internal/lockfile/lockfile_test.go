package lockfile_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ankurah/ankurah-go/internal/lockfile"
)

// TestAcquire: a second Acquire is refused with the holder's description,
// in this process and from another; a release, or the holder's death by
// SIGKILL, frees the lock.
func TestAcquire(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := lockfile.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Describe("pid 42, serving ws://127.0.0.1:1/ws"); err != nil {
		t.Fatal(err)
	}
	var held *lockfile.HeldError
	if _, err := lockfile.Acquire(path); !errors.As(err, &held) || held.Holder != "pid 42, serving ws://127.0.0.1:1/ws" {
		t.Fatalf("second acquire in-process: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = lockfile.Acquire(path)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l.Release()

	// Another process takes it and is killed with SIGKILL.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHold$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HOLD="+path)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	if _, err := lockfile.Acquire(path); !errors.As(err, &held) || !strings.Contains(held.Holder, "helper pid") {
		t.Fatalf("acquire while another process holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err = lockfile.Acquire(path)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// TestHelperHold holds the lock for TestAcquire until it is killed.
func TestHelperHold(t *testing.T) {
	path := os.Getenv("LOCKFILE_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	l, err := lockfile.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Describe("helper pid " + strconv.Itoa(os.Getpid()))
	os.Stdout.WriteString("held\n")
	select {} // until killed
}
