package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/payvault/payvault/internal/vault"
)

// TestMapErrUnavailable: an error that says the database cannot serve now is Unavailable
// (503 with Retry-After in every API), not Internal (500).
func TestMapErrUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want vault.Kind
	}{
		{&pgconn.PgError{Code: "57P01"}, vault.Unavailable}, // terminated by an administrator
		{&pgconn.PgError{Code: "57P03"}, vault.Unavailable}, // the database is starting up
		{&pgconn.PgError{Code: "53300"}, vault.Unavailable}, // too many connections
		{&pgconn.PgError{Code: "25006"}, vault.Unavailable}, // read-only transaction
		{&pgconn.PgError{Code: "08006"}, vault.Unavailable}, // connection failure
		{&pgconn.PgError{Code: "55P03"}, vault.Unavailable}, // lock not available
		{&pgconn.PgError{Code: "57014"}, vault.Unavailable}, // statement timeout
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), vault.Unavailable},
		{errors.New("conn closed"), vault.Unavailable},
		{context.DeadlineExceeded, vault.Unavailable},
		{&pgconn.PgError{Code: "42P01"}, vault.Internal}, // undefined table: a bug
		{errors.New("something else"), vault.Internal},
	} {
		if got := vault.KindOf(mapErr("op", tt.err)); got != tt.want {
			t.Errorf("mapErr(%v) = %v; want %v", tt.err, got, tt.want)
		}
	}
}

// TestUnavailableAtOpen: Unavailable, which a serving node's wait at start asks (app.Open),
// says yes to a database that cannot serve yet and no to a configuration that is wrong.
func TestUnavailableAtOpen(t *testing.T) {
	connect := func(err error) error { return fmt.Errorf("sqlstore: connect to postgres: failed to connect: %w", err) }
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"wrong password", connect(&pgconn.PgError{Code: "28P01"}), false},
		{"no pg_hba.conf entry", connect(&pgconn.PgError{Code: "28000"}), false},
		{"no such database", connect(&pgconn.PgError{Code: "3D000"}), false},
		{"starting up", connect(&pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", connect(&pgconn.PgError{Code: "53300"}), true},
		{"connection failure", connect(&pgconn.PgError{Code: "08006"}), true},
		{"connection refused", connect(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"no such host", connect(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "db.internal", IsNotFound: true}}), true},
		{"temporary DNS failure", connect(&net.DNSError{Err: "server misbehaving", Name: "db.internal", IsTemporary: true}), true},
		{"i/o timeout", connect(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}), true},
	} {
		if got := Unavailable(tt.err); got != tt.want {
			t.Errorf("%s: Unavailable(%v) = %v; want %v", tt.name, tt.err, got, tt.want)
		}
	}

	// Errors Open itself returns, without a server.
	ctx := context.Background()
	noServer := t.TempDir() // no PostgreSQL listens here
	for _, tt := range []struct {
		name, dsn string
		want      bool
	}{
		{"unparsable URL", "postgres://u:pw@db.internal:notaport/x", false},
		{"bad escape", "postgres://%zz@db.internal/x", false},
		{"unknown sslmode", "postgres://u@db.internal/x?sslmode=sometimes", false},
		{"no server on the socket", "postgres://postgres@/x?sslmode=disable&host=" + noServer, true},
		// The password is also the user's name, so the error message holds it and redactDSN
		// rewrites the error: it keeps its class.
		{"redacted", "postgres://postgres:postgres@/x?sslmode=disable&host=" + noServer, true},
		{"redacted keywords", "host=" + noServer + " user=pvsecret password=pvsecret dbname=x sslmode=disable", true},
	} {
		s, err := Open(ctx, Config{DSN: tt.dsn})
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", tt.name)
			continue
		}
		if got := Unavailable(err); got != tt.want {
			t.Errorf("%s: Unavailable(%v) = %v; want %v", tt.name, err, got, tt.want)
		}
		var re *redactedError
		if strings.HasPrefix(tt.name, "redacted") && (!errors.As(err, &re) || strings.Contains(err.Error(), "pvsecret")) {
			t.Errorf("%s: the error was not redacted: %v", tt.name, err)
		}
	}
}
