package vault

import (
	"errors"
	"fmt"
	"slices"
)

// Kind classifies an error independently of any transport. The list is append-only.
type Kind uint8

// The error kinds. Each API package maps them to its own status codes and envelopes.
const (
	Other           Kind = iota // Other is an unclassified error; it is reported as Internal.
	Invalid                     // Invalid means the request is malformed or fails validation.
	NotFound                    // NotFound means the addressed record does not exist for this tenant.
	Conflict                    // Conflict means the write clashes with existing state.
	Unauthenticated             // Unauthenticated means the credentials are missing or wrong.
	Forbidden                   // Forbidden means the credentials may not do this.
	Gone                        // Gone means the record existed but was deleted.
	RateLimited                 // RateLimited means the caller must slow down.
	Unavailable                 // Unavailable means a dependency (processor, database) is down.
	Internal                    // Internal means a bug or an unexpected failure.
)

var kindNames = [...]string{"other", "invalid", "not found", "conflict", "unauthenticated", "forbidden", "gone", "rate limited", "unavailable", "internal"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the error type of the core. It never carries secret data: Field names a field,
// never its value, and Err is a reason or a wrapped cause whose text is secret-free.
type Error struct {
	Op    string // Op is the operation, e.g. "vault.CreateCard".
	Kind  Kind   // Kind classifies the failure.
	Field string // Field is the core name of the offending field, when there is one.
	ID    string // ID is the id of the record the error concerns (the missing id, or the existing duplicate).
	Err   error  // Err is the reason or the underlying cause.
}

// Error returns a secret-free description. The kind, field and id are left out when the
// *Error it wraps shows the same (E copies them from a cause it wraps), so that a chain reads
// once: "vault.CreateMerchant: sqlstore.InsertLocation: conflict (account_number): already in use".
func (e *Error) Error() string {
	s := e.Op
	if !e.causeShowsHead() {
		if s != "" {
			s += ": "
		}
		s += e.Kind.String()
		if e.Field != "" {
			s += " (" + e.Field + ")"
		}
		if e.ID != "" {
			s += " [" + e.ID + "]"
		}
	}
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

// causeShowsHead reports whether the first *Error in e's cause shows e's kind, and its field
// and id where e has them.
func (e *Error) causeShowsHead() bool {
	var in *Error
	if !errors.As(e.Err, &in) {
		return false
	}
	return in.Kind == e.Kind && (e.Field == "" || e.Field == in.Field) && (e.ID == "" || e.ID == in.ID)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error from its arguments: a string is the Op, a Kind the kind, an error the cause,
// and Field / ID values set those fields. It panics on any other argument type, as upspin's does.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			e.Op = a
		case Kind:
			e.Kind = a
		case Field:
			e.Field = string(a)
		case ID:
			e.ID = string(a)
		case error:
			e.Err = a
		case nil:
		default:
			panic(fmt.Sprintf("vault.E: bad argument %T", a))
		}
	}
	if e.Kind == Other {
		var inner *Error
		if errors.As(e.Err, &inner) {
			e.Kind = inner.Kind
			if e.Field == "" {
				e.Field = inner.Field
			}
			if e.ID == "" {
				e.ID = inner.ID
			}
		}
	}
	return e
}

// Fields returns the fields the *Errors in err's tree name, outermost first, each once: a core
// check that finds several fields wrong joins an error for each (errors.Join), so that an API
// that reports every failing field can name them all.
func Fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if e, ok := err.(*Error); ok && e.Field != "" && !slices.Contains(out, e.Field) {
				out = append(out, e.Field)
			}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, sub := range j.Unwrap() {
					walk(sub)
				}
				return
			}
			err = errors.Unwrap(err)
		}
	}
	walk(err)
	return out
}

// Field is an argument to E naming the offending field.
type Field string

// ID is an argument to E naming the record concerned.
type ID string

// KindOf returns the kind of err: the first *Error's kind in its chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	for errors.As(err, &e) {
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
		if err == nil {
			break
		}
	}
	if err == nil {
		return Other
	}
	return Internal
}

// AsError returns the outermost *Error in err's chain whose Kind is set, or nil.
func AsError(err error) *Error {
	var e *Error
	for errors.As(err, &e) {
		if e.Kind != Other {
			return e
		}
		if e.Err == nil {
			return nil
		}
		err = e.Err
	}
	return nil
}

// Reasons a field can be invalid. API packages map each to their vendor's message.
var (
	ErrRequired        = errors.New("required")
	ErrFormat          = errors.New("bad format")
	ErrLength          = errors.New("bad length")
	ErrLuhn            = errors.New("luhn checksum failed")
	ErrBrand           = errors.New("unknown card brand")
	ErrExpired         = errors.New("card has expired")
	ErrExpiry          = errors.New("invalid expiry")
	ErrRouting         = errors.New("invalid routing number")
	ErrNotInProfile    = errors.New("not in this profile")
	ErrUnusable        = errors.New("does not exist or cannot be used")
	ErrDuplicate       = errors.New("already in use")
	ErrImmutable       = errors.New("cannot be changed")
	ErrNotConfigured   = errors.New("no processor is configured")
	ErrTokenConsumed   = errors.New("token is consumed or expired")
	ErrWrongMerchant   = errors.New("belongs to another merchant")
	ErrBadStatus       = errors.New("invalid status transition")
	ErrNoDefaultCard   = errors.New("the profile has no active card")
	ErrLiveOverPlainHT = errors.New("live credentials need TLS")
	// ErrCardNumber refuses a name or a label that holds a probable card number
	// (card.ContainsPAN): the vault keeps card numbers only sealed. Its text never holds
	// the value.
	ErrCardNumber = errors.New("a card number is not allowed here")
)

// ErrOutcomeUnknown marks an Unavailable write whose COMMIT was sent and never answered, and
// which the database could not say the fate of in time: it may be stored. An API answers it
// 503 and keeps that answer for the request's Idempotency-Key (idempotency.Keep), so that a
// retry with the key is never run a second time; the client looks the record up instead.
var ErrOutcomeUnknown = errors.New("the write's outcome is unknown: it may have been stored")

// Wrap returns nil for a nil err and otherwise E(op, err).
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return E(op, err)
}
