package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
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
