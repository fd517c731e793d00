package store

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LockHolder returns the process holding the file lock on the database at
// path, read from /proc/locks, and its command line; ok is false when none
// is known.
func LockHolder(path string) (pid int, cmdline string, ok bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, "", false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:123456 0 EOF": the device as
	// hex major:minor, then the inode.
	major := (st.Dev>>8)&0xfff | (st.Dev>>32)&^0xfff
	minor := st.Dev&0xff | (st.Dev>>12)&^0xff
	want := strconv.FormatUint(major, 16) + ":" + strconv.FormatUint(minor, 16) + ":" + strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(fields[5], ":")
		if len(dev) != 3 {
			continue
		}
		ma, _ := strconv.ParseUint(dev[0], 16, 64)
		mi, _ := strconv.ParseUint(dev[1], 16, 64)
		if strconv.FormatUint(ma, 16)+":"+strconv.FormatUint(mi, 16)+":"+dev[2] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, _ := os.ReadFile("/proc/" + fields[4] + "/cmdline")
		return pid, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")), true
	}
	return 0, "", false
}
