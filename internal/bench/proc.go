package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rssBytes returns the resident set size of process pid (VmRSS in /proc/<pid>/status).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(v))
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("bench: no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// clockTick is USER_HZ, the unit of the CPU times in /proc/<pid>/stat; 100 on every Linux
// architecture Go supports.
const clockTick = 100

// cpuTime returns the user plus system CPU time process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(0) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// cpuModel returns the CPU model name from /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// listenerPID finds the process listening on the loopback TCP port: the socket's inode in
// /proc/net/tcp{,6}, then the process holding a descriptor on that socket. It needs the right
// to read that process's /proc/<pid>/fd (the same user, or root).
func listenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if i == 0 || len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("bench: nothing listens on port %d", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, err := os.ReadDir(filepath.Join(p, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join(p, "fd", fd.Name())); err == nil && inodes[link] {
				return strconv.Atoi(filepath.Base(p))
			}
		}
	}
	return 0, fmt.Errorf("bench: cannot find the process listening on port %d (set --server-pid)", port)
}

// checkLoopbackURL refuses a target that is not plain HTTP on a loopback address: the bench
// writes thousands of records, and is never to be pointed at a shared or remote server.
func checkLoopbackURL(ctx context.Context, target string) (*url.URL, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("bench: target %q is not a URL like http://127.0.0.1:8080", target)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("bench: target must be http:// on loopback, not %q", u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("bench: target must be a bare base URL (scheme, host and port)")
	}
	if u.Port() == "" {
		return nil, errors.New("bench: target needs a port")
	}
	if err := checkLoopbackHost(ctx, u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// checkLoopbackHost accepts a loopback IP, or a name all of whose addresses are loopback.
func checkLoopbackHost(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("bench: %s is not a loopback address; payvault bench runs against this machine only", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("bench: cannot resolve %q", host)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("bench: %s resolves to %s, not a loopback address; payvault bench runs against this machine only", host, a.IP)
		}
	}
	return nil
}

// checkLoopbackDSN refuses a PostgreSQL URL whose server is not on this machine: a unix
// socket (host is a directory) or a loopback address.
func checkLoopbackDSN(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("bench: --database must be a postgres:// URL")
	}
	hosts := []string{u.Hostname()}
	if h := u.Query().Get("host"); h != "" {
		hosts = strings.Split(h, ",")
	}
	for _, h := range hosts {
		switch {
		case h == "":
			// libpq's default: the local unix socket.
		case strings.HasPrefix(h, "/"):
			// A unix socket directory.
		default:
			if err := checkLoopbackHost(ctx, h); err != nil {
				return fmt.Errorf("bench: the database must be on this machine: %w", err)
			}
		}
	}
	return nil
}
