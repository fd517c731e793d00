package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestInstallScript runs scripts/install.sh into a temporary root, then
// for real on this machine (root, no ticketd installed yet), and
// uninstalls: the files, their modes and owners, the user, and the next
// steps printed.
func TestInstallScript(t *testing.T) {
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("set %s=1 to run (scripts/test.sh does)", EnvVar)
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	script := filepath.Join(repo, "scripts", "install.sh")
	built := buildTicketd(t, repo) // for the runs after the first, which builds as an operator's does
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(append(os.Environ(), "TICKETD_BIN="+built), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return st.Mode().Perm()
	}

	root := t.TempDir()
	out := run([]string{"DESTDIR=" + root, "TICKETD_BIN="})
	for p, want := range map[string]os.FileMode{
		"usr/local/bin/ticketd": 0o755, "etc/ticketd": 0o750, "etc/ticketd/config.yaml": 0o640,
		"etc/ticketd/imap-password": 0o640, "etc/ticketd/smtp-password": 0o640, "var/lib/ticketd": 0o700,
		"etc/ticketd/db-key":                 0o400,
		"etc/systemd/system/ticketd.service": 0o644,
	} {
		if got := mode(filepath.Join(root, p)); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
	if !strings.Contains(out, "Next:") || !strings.Contains(out, "check-config") || !strings.Contains(out, "systemctl start ticketd") {
		t.Errorf("next steps not printed:\n%s", out)
	}
	// A second run keeps the operator's config.
	cfg := filepath.Join(root, "etc/ticketd/config.yaml")
	os.WriteFile(cfg, []byte("# mine\n"), 0o640)
	if out := run([]string{"DESTDIR=" + root}); !strings.Contains(out, "unchanged") {
		t.Errorf("second run:\n%s", out)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
		t.Errorf("the operator's config was overwritten: %q", b)
	}
	// The installed binary reads the installed example config.
	check := exec.Command(filepath.Join(root, "usr/local/bin/ticketd"), "config", "example")
	if b, err := check.Output(); err != nil || !strings.Contains(string(b), "mailboxes:") {
		t.Errorf("installed binary: %v", err)
	}
	run([]string{"DESTDIR=" + root}, "--uninstall")
	if _, err := os.Stat(filepath.Join(root, "usr/local/bin/ticketd")); !os.IsNotExist(err) {
		t.Errorf("binary left after uninstall: %v", err)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("uninstall removed the configuration: %v", err)
	}

	// For real: only on a machine that has no ticketd of its own.
	if os.Getuid() != 0 {
		t.Skip("not root: the real install is not tried")
	}
	for _, p := range []string{"/usr/local/bin/ticketd", "/etc/ticketd", "/var/lib/ticketd", "/etc/systemd/system/ticketd.service"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists: this machine has a ticketd; the real install is not tried", p)
		}
	}
	if exec.Command("id", "ticketd").Run() == nil {
		t.Skip("a ticketd user exists; the real install is not tried")
	}
	t.Cleanup(func() {
		exec.Command("bash", script, "--uninstall").Run()
		os.RemoveAll("/etc/ticketd")
		os.RemoveAll("/var/lib/ticketd")
	})
	run(nil)
	if err := exec.Command("id", "ticketd").Run(); err != nil {
		t.Errorf("no ticketd user after install: %v", err)
	}
	// The daemon's user reads its config; others do not.
	if b, err := exec.Command("runuser", "-u", "ticketd", "--", "cat", "/etc/ticketd/config.yaml").CombinedOutput(); err != nil {
		t.Errorf("ticketd cannot read its config: %v\n%s", err, b)
	}
	if err := exec.Command("runuser", "-u", "nobody", "--", "cat", "/etc/ticketd/config.yaml").Run(); err == nil {
		t.Error("nobody can read /etc/ticketd/config.yaml")
	}
	run(nil, "--uninstall")
	if exec.Command("id", "ticketd").Run() == nil {
		t.Error("the ticketd user is left after uninstall")
	}
	if _, err := os.Stat("/usr/local/bin/ticketd"); !os.IsNotExist(err) {
		t.Errorf("binary left after uninstall: %v", err)
	}
}
