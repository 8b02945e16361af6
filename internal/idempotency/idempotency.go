// Package idempotency makes POST requests safe to retry. A client sends an Idempotency-Key
// header; the first request with a key runs and its response is kept; a later request with the
// same key and the same request gets that response replayed, and one with a different request
// is refused with the calling API's own conflict envelope. Two concurrent requests with one key
// run once: the second waits for the first's answer.
//
// Keys are scoped by merchant and API and kept for 24 hours. Requests are compared by an HMAC
// under a server key, never by a plain hash, because a body may hold a card number. Responses
// that carry secrets are never kept (NoStore), and responses of server failures are forgotten
// so that a retry runs again (unless the handler says Keep).
//
// API packages call Keeper.Serve after authenticating the caller, for every POST.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/vault"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader is set to "true" on a replayed response.
const ReplayedHeader = "Idempotent-Replayed"

// macPurpose is the ServerMAC purpose of request fingerprints.
const macPurpose = "idempotency"

// maxKeyLen is the longest key stored as is; longer keys are stored as their SHA-256.
const maxKeyLen = 255

// keyMACPurpose is the ServerMAC purpose of the keys that hold account data, which are
// stored as their MAC.
const keyMACPurpose = "idempotency key"

// Record states.
const (
	StatePending = "pending" // StatePending: the first request is running.
	StateDone    = "done"    // StateDone: its response is kept (Body may be empty).
	StateSecret  = "secret"  // StateSecret: it ran, but its response carried secrets and was not kept.
)

// Record is one key's entry.
type Record struct {
	MerchantID string
	Scope      string // Scope is the API ("paysafe", "fortis", "admin").
	Key        string
	MAC        []byte // MAC fingerprints the request: method, path and body.
	State      string
	Status     int
	Header     http.Header
	Body       []byte
	Created    time.Time
}

// Store keeps the records. Writes are durable on return. Errors are the vault's (*vault.Error);
// Kinds: NotFound, Internal, Unavailable.
type Store interface {
	// ClaimIdempotencyKey stores rec as pending unless the key has a live record; it returns
	// nil when it claimed the key, and the live record otherwise. A record created before
	// expired, or a pending one created before stale that is not bound (Record.Bound), is not
	// live: it is replaced.
	ClaimIdempotencyKey(ctx context.Context, rec *Record, expired, stale time.Time) (*Record, error)
	// GetIdempotencyKey returns a key's record; NotFound when there is none.
	GetIdempotencyKey(ctx context.Context, merchantID, scope, key string) (*Record, error)
	// FinishIdempotencyKey stores the outcome (State, Status, Header, Body) of the pending
	// record rec claimed; it does nothing when that claim was lost. It also replaces the
	// outcome of a done record of the same claim: a kept answer that was open (Made) by the
	// final one.
	FinishIdempotencyKey(ctx context.Context, rec *Record) error
	// ReleaseIdempotencyKey deletes the pending record rec claimed, so that a retry runs again.
	ReleaseIdempotencyKey(ctx context.Context, rec *Record) error
	// SweepIdempotencyKeys deletes the records created before t and returns how many went.
	SweepIdempotencyKeys(ctx context.Context, before time.Time) (int, error)
}

// MAC fingerprints requests under a server key. *keys.Keyring implements it.
type MAC interface {
	// ServerMAC returns the MAC of data for purpose under the primary server key.
	ServerMAC(purpose string, data []byte) []byte
	// VerifyServerMAC reports whether mac is data's MAC for purpose under any enabled server key.
	VerifyServerMAC(purpose string, data, mac []byte) bool
}

// Reason says why a request is refused.
type Reason uint8

// The reasons.
const (
	// Mismatch: the key was used with a different request.
	Mismatch Reason = iota + 1
	// InProgress: the first request with the key is still running after the wait.
	InProgress
	// NotReplayable: the first request ran, but its response carried secrets and was not kept.
	NotReplayable
	// Unavailable: the key's record cannot be read or written now (the database is down); the
	// request did not run. The API answers 503.
	Unavailable
)

// Conflict writes an API's refusal of a reused key, in that API's envelope.
type Conflict func(w http.ResponseWriter, r *http.Request, why Reason)

// Refresh answers a repeat of a request whose answer was left open (Made) with the request's
// final answer, once it has one (ref is Made's reference), and reports true. It reports false,
// having written nothing, while the outcome is still open: the kept answer is then replayed.
type Refresh func(w http.ResponseWriter, r *http.Request, ref string) bool

// Config tunes a Keeper.
type Config struct {
	Retention  time.Duration // Retention is how long keys are kept (24 h by default).
	Wait       time.Duration // Wait is how long a repeat waits for a running first request (60 s by default).
	StaleAfter time.Duration // StaleAfter is when a pending record is presumed abandoned by a crashed node (5 min by default).
	// KeepFor is how long a request that ran keeps trying to store its outcome while the
	// store fails, before it answers anyway (4 min by default: less than StaleAfter, after
	// which a retry would take the key over and run the request again). A failed request's
	// key is released, in the background, for as long.
	KeepFor time.Duration
	Now     func() time.Time // Now is the clock; time.Now by default.
	Logger  *slog.Logger     // Logger takes an outcome that could not be stored; none by default.
}

// Keeper runs requests at most once per key. It is safe for concurrent use.
type Keeper struct {
	store Store
	mac   MAC
	cfg   Config
}

// New returns a Keeper.
func New(store Store, mac MAC, cfg Config) *Keeper {
	if cfg.Retention == 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.Wait == 0 {
		cfg.Wait = 60 * time.Second
	}
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.KeepFor == 0 {
		cfg.KeepFor = cfg.StaleAfter * 4 / 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Keeper{store: store, mac: mac, cfg: cfg}
}

// OpenRefHeader holds a reference to what a request made (a transaction id) in its record's
// headers: a done record's whose server failure was kept open (Made), and a pending record's,
// bound by the write that made it (Claim). It is never sent: the first answer's headers do not have it, and a
// replay drops it.
const OpenRefHeader = "Payvault-Open-Ref"

// Bound reports the reference a pending record was bound to (Claim), or "".
func (rec *Record) Bound() string {
	if rec.State != StatePending {
		return ""
	}
	return rec.Header.Get(OpenRefHeader)
}

// Claim is the key a running request holds: a write that makes the request's outcome depend
// on something outside the database (a payment, before its processor call) binds it to what
// it makes, in the same transaction (payments.Tx.BindIdempotencyKey), so that a retry after
// the request's node died answers from that (Refresh) instead of running the request again.
type Claim struct {
	MerchantID, Scope, Key string
	Created                time.Time
}

// Claimed returns the key the request of ctx holds, if it runs under Serve with one.
func Claimed(ctx context.Context) (Claim, bool) {
	st, ok := ctx.Value(stateKey{}).(*state)
	if !ok || st.claim == nil {
		return Claim{}, false
	}
	return *st.claim, true
}

// mode is what a handler asked for its response.
type mode uint8

const (
	modeDefault mode = iota // keep it, unless it is a server failure
	modeKeep                // keep it even if it is a server failure
	modeNoStore             // never keep it: it carries secrets
)

type stateKey struct{}

// state is what a handler asked for its response, through NoStore, Keep and Made, and the key
// its request holds.
type state struct {
	mode  mode
	made  string // made is Made's reference.
	claim *Claim
}

// NoStore marks the response being written for ctx's request as one that carries secrets:
// a success is never stored, and a repeat of the request is refused with NotReplayable. A
// refusal (4xx) is kept and replayed as usual, and a server failure (5xx) forgotten, since
// neither carries the secrets. It does nothing outside Serve.
func NoStore(ctx context.Context) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		st.mode = modeNoStore
	}
}

// Keep marks a server-failure response (5xx) as the request's real outcome, to be replayed
// (a card payment whose processor faulted was recorded). Other 5xx responses are forgotten so
// that a retry runs again. It does nothing outside Serve.
func Keep(ctx context.Context) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok && st.mode != modeNoStore {
		st.mode = modeKeep
	}
}

// KeepIfStored keeps the failure err answers (Keep) when err says that the request's write
// may be stored (vault.ErrOutcomeUnknown: its COMMIT went unanswered): a retry with the key
// must get this answer, never write a second record. Every API calls it from its error
// writer. It does nothing for other errors, or outside Serve.
func KeepIfStored(ctx context.Context, err error) {
	if errors.Is(err, vault.ErrOutcomeUnknown) {
		Keep(ctx)
	}
}

// Made records that the request of ctx has made ref (a transaction, committed, whose
// processor call follows): a server failure it answers from then on (a payment whose outcome
// could not be recorded, which recovery completes later) is kept open for ref, never
// forgotten, so that a retry with its key never makes another: a repeat asks the API's Refresh
// for ref's final answer, and keeps that one once there is one; until then it gets the kept
// failure. Other answers are kept as usual. It does nothing outside Serve.
func Made(ctx context.Context, ref string) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		st.made = ref
	}
}

// Serve runs next for a POST under the Idempotency-Key discipline. Without the header it just
// calls next. merchantID and scope (the API) partition the keys; conflict answers a refused
// repeat in the API's envelope, and refresh (which may be nil) the repeat of a request whose
// answer was left open (Made).
func (k *Keeper) Serve(w http.ResponseWriter, r *http.Request, merchantID, scope string, conflict Conflict, refresh Refresh, next http.HandlerFunc) {
	key := r.Header.Get(Header)
	if key == "" || r.Method != http.MethodPost {
		next(w, r)
		return
	}
	clear := "" // clear is the key as an earlier version kept one it now keeps as its MAC.
	switch {
	case httpx.RedactValue(key) != key:
		if len(key) <= maxKeyLen && utf8.ValidString(key) {
			clear = key
		}
		// A key holding what a log would mask (a card number's run of digits, an IBAN) is
		// kept as its keyed MAC, never in the clear nor as a plain digest, which a stolen
		// table would give up to a search over a BIN's numbers.
		key = "mac:" + hex.EncodeToString(k.mac.ServerMAC(keyMACPurpose, []byte(key)))
	case len(key) > maxKeyLen || !utf8.ValidString(key):
		// A long key, or one that is not text a database can hold, is kept as its digest.
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	body, err := readBody(r)
	if err != nil {
		// Let the API answer the unreadable body (too large, cut off) in its own way.
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		next(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	fp := fingerprint(r, body)
	ctx := r.Context()
	deadline := time.Now().Add(k.cfg.Wait)
	for {
		now := k.cfg.Now().UTC().Truncate(time.Millisecond)
		rec := &Record{MerchantID: merchantID, Scope: scope, Key: key, MAC: k.mac.ServerMAC(macPurpose, fp), State: StatePending, Created: now}
		cur, err := k.store.ClaimIdempotencyKey(ctx, rec, now.Add(-k.cfg.Retention), now.Add(-k.cfg.StaleAfter))
		if err != nil {
			if errors.Is(err, vault.ErrOutcomeUnknown) {
				// The claim may be stored, pending for a request that will never run: its
				// retries would wait and be refused until it went stale. Release it once
				// the database answers.
				k.release(context.WithoutCancel(ctx), rec)
			}
			// Without the store the guarantee cannot hold: refuse rather than risk a double
			// run, as unavailable (503), not as a conflict (the request did not run).
			k.unavailable(w, r, conflict, "claim", rec, err)
			return
		}
		if cur == nil {
			if old := vault.LegacyIdempotencyScope(scope); old != "" && k.legacy(w, r, rec, old, rec.Key, fp, conflict) {
				return
			}
			if clear != "" && k.legacy(w, r, rec, scope, clear, fp, conflict) {
				return
			}
			k.run(w, r, rec, next)
			return
		}
		if !k.mac.VerifyServerMAC(macPurpose, fp, cur.MAC) {
			conflict(w, r, Mismatch)
			return
		}
		switch {
		case cur.State == StateDone:
			k.replay(w, r, cur, refresh)
			return
		case cur.State == StateSecret:
			conflict(w, r, NotReplayable)
			return
		case cur.Bound() != "":
			// Its request made a payment, which has its outcome once the request's own
			// completion or (were its node to have died) recovery has recorded it: the payment's
			// answer then, kept as the request's. The request is never run again: abandoned,
			// its retries are told it is still being processed until then.
			if k.settle(w, r, cur, refresh) {
				return
			}
			if !cur.Created.After(now.Add(-k.cfg.StaleAfter)) {
				conflict(w, r, InProgress)
				return
			}
		}
		// The first request is still running: wait until its record changes, then look again.
		// A payment whose node died is completed by recovery, which leaves the record as it
		// is: a bound key's retry looks for the payment's outcome as it waits (settle), and
		// is answered as soon as there is one, not at the end of the wait.
		var settled func() bool
		answered := false
		if cur.Bound() != "" {
			settled = func() bool { answered = k.settle(w, r, cur, refresh); return answered }
		}
		switch changed, err := k.wait(ctx, cur, deadline, settled); {
		case answered:
			return
		case err != nil:
			k.unavailable(w, r, conflict, "wait", rec, err)
			return
		case !changed:
			if cur.Bound() == "" || !k.settle(w, r, cur, refresh) {
				conflict(w, r, InProgress)
			}
			return
		}
	}
}

// unavailable answers a request whose key the store could not claim or read (op) with
// conflict's 503, and logs why at WARN: the API's envelope says only that the service is
// unavailable.
func (k *Keeper) unavailable(w http.ResponseWriter, r *http.Request, conflict Conflict, op string, rec *Record, err error) {
	if k.cfg.Logger != nil {
		k.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "idempotency: the key store cannot answer; the request was refused with 503 and did not run",
			slog.String("op", op), slog.String("merchant", rec.MerchantID), slog.String("scope", rec.Scope), slog.String("err", err.Error()))
	}
	conflict(w, r, Unavailable)
}

// legacy answers a request whose key an earlier payvault kept as key under scope (the scope
// such keys had then, vault.LegacyIdempotencyScope, or in the clear a key now kept as its MAC),
// as it would have: a retry sent across the upgrade must not run again. The key just claimed
// as it is kept now is then released. It reports whether it answered: a key not kept there,
// kept for another request, expired or abandoned leaves the request to run as it is kept now.
func (k *Keeper) legacy(w http.ResponseWriter, r *http.Request, rec *Record, scope, key string, fp []byte, conflict Conflict) bool {
	old, err := k.store.GetIdempotencyKey(r.Context(), rec.MerchantID, scope, key)
	now := k.cfg.Now()
	switch {
	case vault.KindOf(err) == vault.NotFound:
		return false
	case err == nil && (!k.mac.VerifyServerMAC(macPurpose, fp, old.MAC) || old.Created.Before(now.Add(-k.cfg.Retention)) ||
		(old.State == StatePending && old.Created.Before(now.Add(-k.cfg.StaleAfter)))):
		return false
	}
	k.release(context.WithoutCancel(r.Context()), rec)
	switch {
	case err != nil:
		k.unavailable(w, r, conflict, "legacy", rec, err)
	case old.State == StateDone:
		k.replay(w, r, old, nil)
	case old.State == StateSecret:
		conflict(w, r, NotReplayable)
	default:
		conflict(w, r, InProgress)
	}
	return true
}

// settleEvery is how often a wait on a bound record asks for its payment's outcome.
const settleEvery = time.Second

// wait polls a pending record until it changes (finished, released or taken over), and
// reports false when the deadline or the request's end comes first, or the store fails.
// settled, when not nil, is asked about every settleEvery whether it has answered the
// request from what the record is bound to; wait then reports true.
func (k *Keeper) wait(ctx context.Context, cur *Record, deadline time.Time, settled func() bool) (bool, error) {
	asked := time.Now()
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 250*time.Millisecond) {
		if time.Now().Add(delay).After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(delay):
		}
		got, err := k.store.GetIdempotencyKey(ctx, cur.MerchantID, cur.Scope, cur.Key)
		switch {
		case vault.KindOf(err) == vault.NotFound:
			return true, nil
		case err != nil:
			return false, err
		case got.State != StatePending || !got.Created.Equal(cur.Created):
			return true, nil
		case !k.cfg.Now().Add(-k.cfg.StaleAfter).Before(got.Created):
			return true, nil // abandoned: the next claim takes it over
		case settled != nil && time.Since(asked) >= settleEvery:
			if settled() {
				return true, nil
			}
			asked = time.Now()
		}
	}
}

// run runs next as the key's first request and keeps its outcome. The response is held back
// until the outcome is kept, so that a client that saw an answer always gets it replayed, even
// when the server dies right after answering.
func (k *Keeper) run(w http.ResponseWriter, r *http.Request, rec *Record, next http.HandlerFunc) {
	m := &state{claim: &Claim{MerchantID: rec.MerchantID, Scope: rec.Scope, Key: rec.Key, Created: rec.Created}}
	rw := &recorder{ResponseWriter: w, header: http.Header{}}
	// The outcome is recorded even if the client has gone away.
	store := context.WithoutCancel(r.Context())
	defer func() {
		if v := recover(); v != nil {
			if m.made == "" { // a request that made a payment keeps its key bound to it
				k.store.ReleaseIdempotencyKey(store, rec)
			}
			panic(v)
		}
	}()
	next(rw, r.WithContext(context.WithValue(r.Context(), stateKey{}, m)))
	status := rw.status
	if status == 0 {
		status = http.StatusOK
		rw.header = w.Header().Clone()
	}
	// A request marked NoStore that was refused (4xx) answered an error, which holds no
	// secret: it is kept and replayed like any other, so that its retry gets the same 4xx
	// rather than NotReplayable. One that failed (5xx) is forgotten like any other.
	switch {
	case status >= 500 && m.mode != modeKeep && m.made == "":
		// A failure's answer is not kept, so it need not wait for the release: it is sent at
		// once. A key left pending would make every retry wait (Wait) and be refused until it
		// went stale (StaleAfter).
		k.release(store, rec)
	case m.mode == modeNoStore && status < 400:
		rec.State, rec.Status, rec.Header, rec.Body = StateSecret, status, nil, nil
		k.keep(store, "finish", rec, k.store.FinishIdempotencyKey, k.cfg.KeepFor)
	default:
		rec.State, rec.Status, rec.Header, rec.Body = StateDone, status, keptHeaders(rw.header), rw.body.Bytes()
		if status >= 500 && m.made != "" {
			// It made a payment that this failure does not answer: a retry must not make
			// another, and gets the payment's answer once it has one (settle).
			rec.Header.Set(OpenRefHeader, m.made)
		}
		k.keep(store, "finish", rec, k.store.FinishIdempotencyKey, k.cfg.KeepFor)
	}
	w.WriteHeader(status)
	w.Write(rw.body.Bytes())
}

// release frees rec's key at once, or, when the store fails (the database went away, which is
// often why a request failed), keeps trying in the background for as long as a finish would,
// so that the key is free as soon as the database is back.
func (k *Keeper) release(ctx context.Context, rec *Record) {
	if err := k.store.ReleaseIdempotencyKey(ctx, rec); err != nil {
		go k.keep(ctx, "release", rec, k.store.ReleaseIdempotencyKey, k.cfg.KeepFor)
	}
}

// keep stores a request's outcome (op is FinishIdempotencyKey or ReleaseIdempotencyKey),
// trying again while the store fails, for up to d. A finished request has run, and its
// writes are committed: an outcome left unstored leaves the key pending, and once it is stale
// a retry with the key would run the request again (a second payment). So its answer waits
// for the store to come back (KeepFor), and is sent anyway, with the failure logged, only
// after that.
func (k *Keeper) keep(ctx context.Context, what string, rec *Record, op func(context.Context, *Record) error, d time.Duration) {
	deadline := time.Now().Add(d)
	delay := 20 * time.Millisecond
	for {
		err := op(ctx, rec)
		if err == nil {
			return
		}
		if time.Now().Add(delay).After(deadline) {
			if k.cfg.Logger != nil {
				msg := "idempotency: the outcome of a request that ran could not be stored; a retry with its key after the stale limit would run it again"
				if what == "release" {
					msg = "idempotency: the key of a failed request could not be released; its retries are refused until the stale limit"
				}
				k.cfg.Logger.LogAttrs(ctx, slog.LevelError, msg,
					slog.String("op", what), slog.String("merchant", rec.MerchantID), slog.String("scope", rec.Scope), slog.String("err", err.Error()))
			}
			return
		}
		time.Sleep(delay)
		delay = min(delay*2, time.Second)
	}
}

// Sweep deletes the keys older than the retention and returns how many went.
func (k *Keeper) Sweep(ctx context.Context) (int, error) {
	return k.store.SweepIdempotencyKeys(ctx, k.cfg.Now().Add(-k.cfg.Retention))
}

// replay writes a kept response. One left open (Made) is refreshed first (settle).
func (k *Keeper) replay(w http.ResponseWriter, r *http.Request, rec *Record, refresh Refresh) {
	if k.settle(w, r, rec, refresh) {
		return
	}
	h := w.Header()
	for name, vs := range rec.Header {
		h[name] = append([]string(nil), vs...)
	}
	h.Del(OpenRefHeader)
	h.Set(ReplayedHeader, "true")
	w.WriteHeader(rec.Status)
	w.Write(rec.Body)
}

// settle answers a repeat of rec's request with the final answer refresh has for rec's
// reference, if any, and keeps that answer as the request's (a failure to keep it only means
// that the next repeat asks again). It reports false, having written nothing, when rec has no
// reference or refresh no final answer yet.
func (k *Keeper) settle(w http.ResponseWriter, r *http.Request, rec *Record, refresh Refresh) bool {
	ref := rec.Header.Get(OpenRefHeader)
	if ref == "" || refresh == nil {
		return false
	}
	rw := &recorder{ResponseWriter: w, header: http.Header{}}
	w.Header().Set(ReplayedHeader, "true")
	if !refresh(rw, r, ref) {
		w.Header().Del(ReplayedHeader)
		return false
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
		rw.header = w.Header().Clone()
	}
	final := *rec
	final.State, final.Status, final.Header, final.Body = StateDone, status, keptHeaders(rw.header), rw.body.Bytes()
	final.Header.Del(ReplayedHeader)
	k.store.FinishIdempotencyKey(context.WithoutCancel(r.Context()), &final)
	w.WriteHeader(status)
	w.Write(rw.body.Bytes())
	return true
}

// droppedHeaders are response headers that belong to one exchange and are not replayed.
var droppedHeaders = map[string]bool{
	"Date": true, "Vary": true, "Access-Control-Allow-Origin": true, "Set-Cookie": true, "Content-Length": true,
}

// keptHeaders returns the response headers worth replaying.
func keptHeaders(h http.Header) http.Header {
	out := http.Header{}
	for name, vs := range h {
		if !droppedHeaders[http.CanonicalHeaderKey(name)] {
			out[name] = append([]string(nil), vs...)
		}
	}
	return out
}

// fingerprint is the request as compared: method, path and body, length-prefixed.
func fingerprint(r *http.Request, body []byte) []byte {
	var b bytes.Buffer
	for _, part := range [][]byte{[]byte(r.Method), []byte(r.URL.EscapedPath()), body} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		b.Write(n[:])
		b.Write(part)
	}
	return b.Bytes()
}

// readBody reads the whole body (which the shared middleware limits).
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(r.Body)
}

// errReader returns err on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder holds a response back while it is written: Keeper.run sends it once its outcome
// is kept. Headers are captured when the status is written, as the client will see them. It
// has no Unwrap, so that nothing (a Flush through http.ResponseController) sends the response
// early.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
		rw.header = rw.ResponseWriter.Header().Clone()
	}
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.body.Write(b)
}
