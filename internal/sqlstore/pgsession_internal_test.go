package sqlstore

import (
	"context"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestPgConnConfig: a PostgreSQL session gets a lock_timeout, a connect timeout and TCP
// bounds unless the DSN sets its own.
func TestPgConnConfig(t *testing.T) {
	const base = "postgres://u:p@127.0.0.1:5432/db?sslmode=disable"
	for _, tt := range []struct {
		name, dsn   string
		lock        time.Duration
		wantLock    string
		wantConnect time.Duration
	}{
		{"defaults", base, 0, "10000", 10 * time.Second},
		{"config", base, 250 * time.Millisecond, "250", 10 * time.Second},
		{"off in config", base, -1, "", 10 * time.Second},
		{"dsn wins", base + "&lock_timeout=0&connect_timeout=3", time.Second, "0", 3 * time.Second},
	} {
		pc, err := pgConnConfig(Config{DSN: tt.dsn, LockTimeout: tt.lock}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := pc.RuntimeParams["lock_timeout"]; got != tt.wantLock {
			t.Errorf("%s: lock_timeout %q; want %q", tt.name, got, tt.wantLock)
		}
		if pc.ConnectTimeout != tt.wantConnect {
			t.Errorf("%s: connect timeout %v; want %v", tt.name, pc.ConnectTimeout, tt.wantConnect)
		}
	}

	// The dialer sets keep-alives and, on Linux, TCP_USER_TIMEOUT.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := pgConnConfig(Config{DSN: base}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pc.DialFunc(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var keepAlive, userTimeout int
	var gerr error
	raw.Control(func(fd uintptr) {
		if keepAlive, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); gerr != nil {
			return
		}
		if runtime.GOOS == "linux" {
			userTimeout, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, 0x12) // TCP_USER_TIMEOUT
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if keepAlive == 0 {
		t.Error("keep-alives are off")
	}
	if runtime.GOOS == "linux" && userTimeout != int(pgTCPUserTimeout.Milliseconds()) {
		t.Errorf("TCP_USER_TIMEOUT %d ms; want %d", userTimeout, pgTCPUserTimeout.Milliseconds())
	}
}

// TestFenceSeveralHostsOnly: the timeline fence checks new sessions only where the DSN names
// several servers; one host that pgx tries with TLS and then without (sslmode=prefer, the
// default) is one server.
func TestFenceSeveralHostsOnly(t *testing.T) {
	for _, tt := range []struct {
		name, dsn string
		hosts     []string
	}{
		{"ok/one-host", "postgres://u@db1.example:5432/db?sslmode=disable", []string{"db1.example:5432"}},
		{"ok/one-host-prefer-tls", "postgres://u@db1.example:5433/db", []string{"db1.example:5433"}},
		{"ok/two-hosts", "postgres://u@db1.example:5432,db2.example:5433/db?sslmode=disable", []string{"db1.example:5432", "db2.example:5433"}},
		{"ok/two-hosts-prefer-tls", "postgres://u@db1.example,db2.example/db", []string{"db1.example:5432", "db2.example:5432"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pc, err := pgConnConfig(Config{DSN: tt.dsn}, newTimelineFence())
			if err != nil {
				t.Fatal(err)
			}
			if got := Hosts(&pc.Config); !slices.Equal(got, tt.hosts) {
				t.Errorf("Hosts = %v, want %v", got, tt.hosts)
			}
			if fenced := pc.ValidateConnect != nil; fenced != (len(tt.hosts) > 1) {
				t.Errorf("sessions checked by the fence: %v, want %v", fenced, len(tt.hosts) > 1)
			}
		})
	}
}
