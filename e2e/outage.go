package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopDovecot stops the stack's Dovecot (SIGTERM to its master, which
// ends its children) and waits until IMAP no longer answers.
func (s *Stack) StopDovecot() error {
	pid, err := s.masterPID(filepath.Join("run", "master.pid"))
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop dovecot: %w", err)
	}
	return s.waitPort(s.IMAPPort, false)
}

// KillDovecot kills the stack's Dovecot and every process of its session
// (the imap processes serving open connections included) with SIGKILL, as
// a crash would: a fetch in progress is cut off.
func (s *Stack) KillDovecot() error {
	pid, err := s.masterPID(filepath.Join("run", "master.pid"))
	if err != nil {
		return err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range procs {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(f) > 3 && f[3] == strconv.Itoa(pid) {
			p, _ := strconv.Atoi(strings.Fields(string(data))[0])
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	// A killed master may linger unreaped (a zombie) where nothing reaps
	// orphans, and Dovecot refuses to start while its pid file names a
	// process that exists.
	os.Remove(filepath.Join(s.Dir, "var", "run", "master.pid"))
	return s.waitPort(s.IMAPPort, false)
}

// StartDovecot starts the stack's Dovecot again with its configuration and
// data, and waits until IMAP answers.
func (s *Stack) StartDovecot() error {
	// Killed children may hold the listening sockets a moment longer
	// (they inherit them from the master), and Dovecot refuses to start
	// while one answers ("Socket already exists"): try again for a while.
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err = s.daemon("dovecot", "-c", s.env["MAILSTACK_DOVECOT_CONF"])
		if err == nil || !strings.Contains(err.Error(), "already running") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return err
	}
	return s.waitPort(s.IMAPPort, true)
}

// StopPostfix stops the stack's Postfix and waits until SMTP no longer
// answers.
func (s *Stack) StopPostfix() error {
	if err := s.daemon("postfix", "-c", s.env["MAILSTACK_POSTFIX_DIR"], "stop"); err != nil {
		return err
	}
	if err := s.waitPort(s.SMTPPort, false); err != nil {
		return err
	}
	return s.waitPort(s.SubmissionPort, false)
}

// StartPostfix starts the stack's Postfix again and waits until SMTP and
// submission answer.
func (s *Stack) StartPostfix() error {
	if err := s.daemon("postfix", "-c", s.env["MAILSTACK_POSTFIX_DIR"], "start"); err != nil {
		return err
	}
	if err := s.waitPort(s.SMTPPort, true); err != nil {
		return err
	}
	return s.waitPort(s.SubmissionPort, true)
}

// daemon runs a command that may start a daemon. Its output goes to a file,
// not a pipe: a daemon that keeps the pipe open would make the wait hang.
func (s *Stack) daemon(name string, args ...string) error {
	logPath := filepath.Join(s.Dir, "log", "start.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *Stack) masterPID(rel string) (int, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir, "var", rel))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// waitPort waits up to 20 s until port accepts connections (up) or
// refuses them (!up).
func (s *Stack) waitPort(port int, up bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		if (err == nil) == up {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("port %d still %s after 20 s", port, map[bool]string{true: "closed", false: "open"}[up])
}
