package main

import (
	"net"
	"syscall"
	"time"
)

// adminPeer reports whether a daemon answers on the admin socket at path,
// and its process id (0 when the kernel does not say).
func adminPeer(path string) (pid int, ok bool) {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return 0, false
	}
	defer c.Close()
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return 0, true
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, true
	}
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid, true
}
