package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The database holds the token encryption key in clear and every JWE, so
// Open keeps it and its -wal and -shm files private to the user, whatever
// the directory's mode and the umask would give them.

// fileModes returns the permission bits of path and its -wal and -shm
// files, and "missing" for one that does not exist.
func fileModes(t *testing.T, path string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		info, err := os.Stat(path + suffix)
		switch {
		case err == nil:
			got["db"+suffix] = info.Mode().Perm().String()
		case os.IsNotExist(err):
			got["db"+suffix] = "missing"
		default:
			t.Fatal(err)
		}
	}
	return got
}

var privateModes = map[string]string{"db": "-rw-------", "db-wal": "-rw-------", "db-shm": "-rw-------"}

// openDataDir returns a new directory of mode 0755, whatever the umask.
func openDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSecurityFileModesNew: a database Open creates in a directory of mode
// 0755 is 0600, and so are the -wal and -shm files SQLite makes for it on
// the first write.
func TestSecurityFileModesNew(t *testing.T) {
	path := filepath.Join(openDataDir(t), "verifyd.db")
	s := openAt(t, path)
	seedOwners(t, s) // a write: the WAL holds it until a checkpoint
	if diff := cmp.Diff(privateModes, fileModes(t, path)); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
}

// TestSecurityFileModesExisting: Open takes group and other permissions
// away from a database and -wal and -shm files that have them (made by an
// older verifyd, or left behind by a crash), while another connection
// holds them open.
func TestSecurityFileModesExisting(t *testing.T) {
	path := filepath.Join(openDataDir(t), "verifyd.db")
	first := openAt(t, path)
	seedOwners(t, first) // keeps -wal and -shm in use until first closes
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Chmod(path+suffix, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openAt(t, path)
	if diff := cmp.Diff(privateModes, fileModes(t, path)); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
}
