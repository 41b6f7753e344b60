package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/models"
)

// These tests hold verifyd to the file-mode findings of the security review:
// the files in the data directory hold secrets (dev credentials, the token
// encryption key, every JWE), so nobody but verifyd's user may read them,
// whatever modes the directory and stale files had before.

// openDir makes dir with mode 0755 whatever the umask, as a data directory
// made by hand or by an older setup often is.
func openDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// modes returns the permission bits of the named files in dir, and "missing"
// for a file that does not exist.
func modes(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	got := make(map[string]string, len(names))
	for _, name := range names {
		info, err := os.Stat(filepath.Join(dir, name))
		switch {
		case err == nil:
			got[name] = info.Mode().Perm().String()
		case os.IsNotExist(err):
			got[name] = "missing"
		default:
			t.Fatal(err)
		}
	}
	return got
}

// createToken makes verifyd write to its store, so that SQLite's -wal and
// -shm files exist while it runs.
func createToken(t *testing.T, d *daemon, creds devCreds) {
	t.Helper()
	resp, err := client(t, d.addr, creds.AccountSID, creds.AuthToken).CreateAccessTokenWithFormdataBodyWithResponse(context.Background(), creds.ServiceSID,
		models.CreateAccessTokenRequest{Identity: "ff483d1ff591898a9942916050d2ca3f", FactorType: models.Push})
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create: %v (status %d, body %s)", err, resp.StatusCode(), resp.Body)
	}
}

// TestSecurityDevCredentialsMode: a stale dev-credentials.json of mode 0644
// (from an older verifyd, or copied in by hand) is replaced by a file of
// mode 0600; writing into it would keep its mode.
func TestSecurityDevCredentialsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, devCredentialsFile)
	if err := os.WriteFile(path, []byte(`{"account_sid":"stale"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, map[string]string{"VERIFYD_DATA_DIR": dir}, "-addr", "127.0.0.1:0")
	creds := readCreds(t, dir) // fails unless the mode is 0600
	if creds.AccountSID == "stale" {
		t.Errorf("dev-credentials.json still holds the stale account")
	}
	want := map[string]string{devCredentialsFile: "-rw-------"}
	if diff := cmp.Diff(want, modes(t, dir, devCredentialsFile)); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != devCredentialsFile && !strings.HasPrefix(name, dbFile) {
			t.Errorf("data directory holds %s, want no temporary file left", name)
		}
	}
}

// TestSecurityDatabaseModes: in a data directory of mode 0755, the database
// and its -wal and -shm files are 0600 once verifyd has written to them, on
// a first start and on a restart over a database file left 0644.
func TestSecurityDatabaseModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	openDir(t, dir)
	env := map[string]string{"VERIFYD_DATA_DIR": dir}
	files := []string{dbFile, dbFile + "-wal", dbFile + "-shm"}
	want := map[string]string{dbFile: "-rw-------", dbFile + "-wal": "-rw-------", dbFile + "-shm": "-rw-------"}

	d := start(t, env, "-addr", "127.0.0.1:0")
	creds := readCreds(t, dir)
	createToken(t, d, creds)
	if diff := cmp.Diff(want, modes(t, dir, files...)); diff != "" {
		t.Errorf("first start: modes (-want +got):\n%s", diff)
	}
	d.stop(t)

	// A database file left readable by others, as verifyd made it before.
	if err := os.Chmod(filepath.Join(dir, dbFile), 0o644); err != nil {
		t.Fatal(err)
	}
	d = start(t, env, "-addr", "127.0.0.1:0")
	createToken(t, d, creds)
	if diff := cmp.Diff(want, modes(t, dir, files...)); diff != "" {
		t.Errorf("restart over a 0644 database: modes (-want +got):\n%s", diff)
	}
}

// TestSecurityDataDirWarning: verifyd warns, once, when its data directory
// can be listed or entered by other users, and says how to fix it; it
// serves anyway. A directory it creates itself is 0700 and draws no warning.
func TestSecurityDataDirWarning(t *testing.T) {
	tests := []struct {
		name     string
		dir      func(t *testing.T) string
		wantWarn bool
		wantMode fs.FileMode // the directory's mode after the run: never changed
	}{
		{"Open", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "data")
			openDir(t, dir)
			return dir
		}, true, 0o755},
		{"GroupEnters", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "data")
			openDir(t, dir)
			if err := os.Chmod(dir, 0o710); err != nil {
				t.Fatal(err)
			}
			return dir
		}, true, 0o710},
		{"Private", func(t *testing.T) string {
			dir := t.TempDir() // 0777 less the umask
			if err := os.Chmod(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return dir
		}, false, 0o700},
		{"Created", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "new", "data")
		}, false, 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			var stderr outputBuffer
			d := startLogged(t, map[string]string{"VERIFYD_DATA_DIR": dir}, &stderr, "-addr", "127.0.0.1:0")
			d.stop(t)

			var warnings []string
			for _, line := range strings.Split(stderr.String(), "\n") {
				var rec struct {
					Level string `json:"level"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "WARN" && strings.Contains(line, dir) {
					warnings = append(warnings, line)
				}
			}
			switch {
			case tt.wantWarn && len(warnings) != 1:
				t.Errorf("warnings naming %s: %q, want one; log:\n%s", dir, warnings, stderr.String())
			case tt.wantWarn && !strings.Contains(warnings[0], "chmod 700 "+dir):
				t.Errorf("warning %s does not say chmod 700 %s", warnings[0], dir)
			case !tt.wantWarn && len(warnings) != 0:
				t.Errorf("warnings naming %s: %q, want none", dir, warnings)
			}

			info, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != tt.wantMode {
				t.Errorf("data directory mode = %v, want %v", got, tt.wantMode)
			}
		})
	}
}
