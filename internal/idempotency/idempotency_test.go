package idempotency_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/payvault/payvault/internal/idempotency"
	"github.com/payvault/payvault/internal/keys"
	"github.com/payvault/payvault/internal/logtest"
	"github.com/payvault/payvault/internal/payments"
	"github.com/payvault/payvault/internal/sqlstore"
	"github.com/payvault/payvault/internal/storetest"
	"github.com/payvault/payvault/internal/vault"
)

func TestMain(m *testing.M) { storetest.RunMain(m) }

// server is a test API whose POST handler counts its runs; the merchant comes from the
// X-Merchant header, standing in for authentication.
type server struct {
	url   string
	store *sqlstore.Store
	keep  *idempotency.Keeper
	kr    *keys.Keyring
	runs  atomic.Int32
	now   atomic.Int64
	// handler decides the answer of a run.
	handler func(w http.ResponseWriter, r *http.Request, body string)
	// scope, when set, is the scope the next posts are kept under ("test" otherwise).
	scope string
	// refresh, when set, is the API's idempotency.Refresh.
	refresh idempotency.Refresh
}

func engines(t *testing.T, fn func(t *testing.T, s *server)) {
	for _, eng := range []string{"sqlite", "postgres"} {
		t.Run(eng, func(t *testing.T) {
			cfg := sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db")}
			if eng == "postgres" {
				cfg = sqlstore.Config{DSN: storetest.PostgresDSN(t)}
			}
			st, err := sqlstore.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			fn(t, mustServer(t, st))
		})
	}
}

func mustServer(t *testing.T, st *sqlstore.Store) *server {
	t.Helper()
	var mk keys.MasterKey
	copy(mk[:], "idempotency-test-master-key-0123")
	kr, err := keys.Open(context.Background(), st, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{store: st, kr: kr}
	s.now.Store(time.Now().UnixMilli())
	k := idempotency.New(st, kr, idempotency.Config{Wait: 10 * time.Second, Now: func() time.Time { return time.UnixMilli(s.now.Load()) }})
	s.keep = k
	conflict := func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"why":`+string(rune('0'+why))+`}`)
	}
	s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Location", "/things/1")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"echo":"`+body+`"}`)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := r.Header.Get("X-Scope")
		if scope == "" {
			scope = "test"
		}
		refresh := func(w http.ResponseWriter, r *http.Request, ref string) bool {
			return s.refresh != nil && s.refresh(w, r, ref)
		}
		k.Serve(w, r, r.Header.Get("X-Merchant"), scope, conflict, refresh, func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			s.runs.Add(1)
			s.handler(w, r, string(b))
		})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

type answer struct {
	Status   int
	Body     string
	Location string
	Replayed string
}

func (s *server) post(t *testing.T, path, merchant, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	req.Header.Set("X-Merchant", merchant)
	if s.scope != "" {
		req.Header.Set("X-Scope", s.scope)
	}
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header.Get("Location"), resp.Header.Get(idempotency.ReplayedHeader)}
}

func TestReplay(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		first := s.post(t, "/things", "m1", "k-1", `a`)
		want := answer{201, `{"echo":"a"}`, "/things/1", ""}
		if d := cmp.Diff(want, first); d != "" {
			t.Fatalf("first (-want +got)\n%s", d)
		}
		want.Replayed = "true"
		tests := []struct {
			name                string
			path, merchant, key string
			body                string
			want                answer
			runs                int32
		}{
			{"ok/same-request-replayed", "/things", "m1", "k-1", `a`, want, 1},
			{"fail/other-body", "/things", "m1", "k-1", `b`, answer{409, `{"why":1}`, "", ""}, 1},
			{"fail/other-path", "/other", "m1", "k-1", `a`, answer{409, `{"why":1}`, "", ""}, 1},
			{"ok/other-merchant-runs", "/things", "m2", "k-1", `a`, answer{201, `{"echo":"a"}`, "/things/1", ""}, 2},
			{"ok/no-key-runs", "/things", "m1", "", `a`, answer{201, `{"echo":"a"}`, "/things/1", ""}, 3},
			{"ok/long-key", "/things", "m1", strings.Repeat("k", 400), `a`, answer{201, `{"echo":"a"}`, "/things/1", ""}, 4},
			{"ok/long-key-replayed", "/things", "m1", strings.Repeat("k", 400), `a`, want, 4},
			{"ok/non-utf8-key", "/things", "m1", "k-\xff", `a`, answer{201, `{"echo":"a"}`, "/things/1", ""}, 5},
			{"ok/non-utf8-key-replayed", "/things", "m1", "k-\xff", `a`, want, 5},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := s.post(t, tt.path, tt.merchant, tt.key, tt.body)
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
				if n := s.runs.Load(); n != tt.runs {
					t.Errorf("handler ran %d times, want %d", n, tt.runs)
				}
			})
		}
		// After the retention the key is free again, and the sweeper removes the old keys.
		s.now.Add((25 * time.Hour).Milliseconds())
		if got := s.post(t, "/things", "m1", "k-1", `b`); got.Status != 201 || got.Replayed != "" {
			t.Errorf("after 24 h: %+v", got)
		}
		if n, err := s.keep.Sweep(context.Background()); err != nil || n != 3 {
			t.Errorf("sweep = %d, %v; want the other merchant's, the long key's and the non-UTF-8 key's", n, err)
		}
	})
}

func TestConcurrentRequestsRunOnce(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		release := make(chan struct{})
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			<-release
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"n":"`+body+`"}`)
		}
		var wg sync.WaitGroup
		answers := make(chan answer, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers <- s.post(t, "/pay", "m1", "same", `x`)
			}()
		}
		// Let every request arrive, then let the one that runs finish.
		for s.runs.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		wg.Wait()
		close(answers)
		if n := s.runs.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
		replayed := 0
		for a := range answers {
			if a.Status != 200 || a.Body != `{"n":"x"}` {
				t.Errorf("answer %+v", a)
			}
			if a.Replayed == "true" {
				replayed++
			}
		}
		if replayed != 5 {
			t.Errorf("%d replayed answers, want 5", replayed)
		}
	})
}

func TestOutcomes(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		tests := []struct {
			name    string
			handler func(w http.ResponseWriter, r *http.Request, body string)
			second  answer
			runs    int32
		}{
			{"ok/secret-never-stored", func(w http.ResponseWriter, r *http.Request, body string) {
				idempotency.NoStore(r.Context())
				w.WriteHeader(201)
				io.WriteString(w, `{"secret":"s3cr3t"}`)
			}, answer{409, `{"why":3}`, "", ""}, 1},
			// A request that would have answered secrets but was refused answers no secret:
			// its retry gets the same refusal; one that failed runs again.
			{"ok/secret-route-refusal-replayed", func(w http.ResponseWriter, r *http.Request, body string) {
				idempotency.NoStore(r.Context())
				w.WriteHeader(400)
				io.WriteString(w, `{"error":"invalid"}`)
			}, answer{400, `{"error":"invalid"}`, "", "true"}, 1},
			{"ok/secret-route-failure-forgotten", func(w http.ResponseWriter, r *http.Request, body string) {
				idempotency.NoStore(r.Context())
				w.WriteHeader(503)
			}, answer{503, ``, "", ""}, 2},
			{"ok/server-failure-forgotten", func(w http.ResponseWriter, r *http.Request, body string) {
				w.WriteHeader(503)
			}, answer{503, ``, "", ""}, 2},
			{"ok/kept-failure-replayed", func(w http.ResponseWriter, r *http.Request, body string) {
				idempotency.Keep(r.Context())
				w.WriteHeader(500)
				io.WriteString(w, `{"error":"1007"}`)
			}, answer{500, `{"error":"1007"}`, "", "true"}, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s.runs.Store(0)
				s.handler = tt.handler
				s.post(t, "/x", "m1", tt.name, `b`)
				got := s.post(t, "/x", "m1", tt.name, `b`)
				if d := cmp.Diff(tt.second, got); d != "" {
					t.Errorf("second answer (-want +got)\n%s", d)
				}
				if n := s.runs.Load(); n != tt.runs {
					t.Errorf("ran %d times, want %d", n, tt.runs)
				}
			})
		}
		// The secret response is not in the store.
		rec, err := s.store.GetIdempotencyKey(context.Background(), "m1", "test", "ok/secret-never-stored")
		if err != nil || rec.State != idempotency.StateSecret || len(rec.Body) != 0 {
			t.Errorf("secret record = %+v, %v", rec, err)
		}
	})
}

func TestBodyTooLargePassesThrough(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		got := s.post(t, "/x", "m1", "big", strings.Repeat("z", 100))
		if got.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", got.Status)
		}
		_, err := s.store.GetIdempotencyKey(context.Background(), "m1", "test", "big")
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("an unreadable request claimed its key: %v", err)
		}
	})
}

// slowFinish is a store whose FinishIdempotencyKey waits for release, and reports whether the
// client already had its answer when it was called.
type slowFinish struct {
	idempotency.Store
	answered chan struct{} // answered closes when the client has the response
	early    atomic.Bool
}

func (s *slowFinish) FinishIdempotencyKey(ctx context.Context, rec *idempotency.Record) error {
	select {
	case <-s.answered:
		s.early.Store(true)
	case <-time.After(300 * time.Millisecond):
	}
	return s.Store.FinishIdempotencyKey(ctx, rec)
}

// TestAccountDataKeyNotStored: a key is the client's to choose, and one may hold a card
// number or an IBAN (an order's card, sent by mistake). Such a key works as any other (a
// repeat is replayed, another body refused), but it is kept as its keyed MAC, never in the
// clear: the table holds no account data.
func TestAccountDataKeyNotStored(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		for i, key := range []string{"4111111111111111", "order-4111 1111 1111 1111", "GB29NWBK60161331926819"} {
			runs := int32(i + 1)
			if got := s.post(t, "/things", "m1", key, `a`); got.Status != 201 || got.Replayed != "" || s.runs.Load() != runs {
				t.Fatalf("%s: first = %+v, runs %d", key, got, s.runs.Load())
			}
			if got := s.post(t, "/things", "m1", key, `a`); got.Replayed != "true" || s.runs.Load() != runs {
				t.Errorf("%s: repeat = %+v, runs %d", key, got, s.runs.Load())
			}
			if got := s.post(t, "/things", "m1", key, `b`); got.Status != 409 {
				t.Errorf("%s: other body = %+v", key, got)
			}
			if _, err := s.store.GetIdempotencyKey(context.Background(), "m1", "test", key); vault.KindOf(err) != vault.NotFound {
				t.Errorf("%s: the key is stored in the clear (err %v)", key, err)
			}
		}
	})
}

// TestAccountDataKeyKeptBeforeReplayed: a key holding account data that an earlier version
// kept in the clear is still found by its retry after the upgrade, so that the request is
// replayed, not run again (as a key kept under a legacy scope is).
func TestAccountDataKeyKeptBeforeReplayed(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		const key = "4111111111111111"
		ctx := context.Background()
		now := time.UnixMilli(s.now.Load()).UTC()
		fp := idempotency.Fingerprint(httptest.NewRequest("POST", "/things", nil), []byte("a"))
		rec := &idempotency.Record{MerchantID: "m1", Scope: "test", Key: key, MAC: s.kr.ServerMAC("idempotency", fp),
			State: idempotency.StatePending, Created: now}
		if cur, err := s.store.ClaimIdempotencyKey(ctx, rec, now.Add(-24*time.Hour), now.Add(-5*time.Minute)); cur != nil || err != nil {
			t.Fatalf("claim = %+v, %v", cur, err)
		}
		rec.State, rec.Status, rec.Header, rec.Body = idempotency.StateDone, 201, http.Header{"Location": {"/things/1"}}, []byte(`{"echo":"a"}`)
		if err := s.store.FinishIdempotencyKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
		want := answer{201, `{"echo":"a"}`, "/things/1", "true"}
		if got := s.post(t, "/things", "m1", key, `a`); got != want || s.runs.Load() != 0 {
			t.Errorf("retry across the upgrade = %+v, runs %d; want %+v, none", got, s.runs.Load(), want)
		}
	})
}

// mustSQLiteKeyring opens a store on a fresh SQLite database and its keyring.
func mustSQLiteKeyring(t *testing.T) (*sqlstore.Store, *keys.Keyring) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mk keys.MasterKey
	copy(mk[:], "idempotency-test-master-key-0123")
	kr, err := keys.Open(context.Background(), st, mk, keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, kr
}

// TestAnswerAfterKept: the client gets the first answer only once it is kept, so that a
// client that saw a 2xx always gets it replayed, even if the server dies right after
// answering. A large body is not streamed ahead of the record.
func TestAnswerAfterKept(t *testing.T) {
	st, kr := mustSQLiteKeyring(t)
	slow := &slowFinish{Store: st, answered: make(chan struct{})}
	k := idempotency.New(slow, kr, idempotency.Config{})
	big := strings.Repeat("x", 256<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Serve(w, r, "m1", "test", func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) { w.WriteHeader(409) }, nil,
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, big)
			})
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("a"))
	req.Header.Set(idempotency.Header, "k-big")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	close(slow.answered)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(b) != big {
		t.Fatalf("answer %d with %d bytes", resp.StatusCode, len(b))
	}
	if slow.early.Load() {
		t.Error("the client had the answer before it was kept")
	}
	rec, err := st.GetIdempotencyKey(context.Background(), "m1", "test", "k-big")
	if err != nil || rec.State != idempotency.StateDone || len(rec.Body) != len(big) {
		t.Errorf("kept record: %v", err)
	}
}

// flakyStore fails its first finishFails FinishIdempotencyKey calls, and every claim while
// claimDown is set, as a store whose database is down does.
type flakyStore struct {
	idempotency.Store
	finishFails atomic.Int32
	finishCalls atomic.Int32
	claimDown   atomic.Bool
}

func (s *flakyStore) ClaimIdempotencyKey(ctx context.Context, rec *idempotency.Record, expired, stale time.Time) (*idempotency.Record, error) {
	if s.claimDown.Load() {
		return nil, vault.E("test", vault.Unavailable)
	}
	return s.Store.ClaimIdempotencyKey(ctx, rec, expired, stale)
}

func (s *flakyStore) FinishIdempotencyKey(ctx context.Context, rec *idempotency.Record) error {
	s.finishCalls.Add(1)
	if s.finishFails.Add(-1) >= 0 {
		return vault.E("test", vault.Unavailable)
	}
	return s.Store.FinishIdempotencyKey(ctx, rec)
}

// TestOutcomeKeptThroughOutage: a request that ran is answered only once its outcome is
// stored, however many tries that takes while the store is down, so that its retry is
// replayed and never runs it again (a second payment); a key that cannot be claimed is 503
// (Unavailable), not a conflict, and the request does not run.
func TestOutcomeKeptThroughOutage(t *testing.T) {
	st, kr := mustSQLiteKeyring(t)
	flaky := &flakyStore{Store: st}
	log, logs := logtest.New(t)
	k := idempotency.New(flaky, kr, idempotency.Config{Logger: log})
	var runs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Serve(w, r, "m1", "test", func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
			if why == idempotency.Unavailable {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusConflict)
		}, nil, func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"charged":true}`)
		})
	}))
	t.Cleanup(srv.Close)
	post := func() (int, string, string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("pay"))
		req.Header.Set(idempotency.Header, "k-outage")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header.Get(idempotency.ReplayedHeader)
	}
	flaky.finishFails.Store(4)
	if code, body, _ := post(); code != 201 || body != `{"charged":true}` {
		t.Fatalf("first answer %d %s", code, body)
	}
	if n := flaky.finishCalls.Load(); n != 5 {
		t.Errorf("%d tries to store the outcome; want 5 (4 failed)", n)
	}
	rec, err := st.GetIdempotencyKey(context.Background(), "m1", "test", "k-outage")
	if err != nil || rec.State != idempotency.StateDone {
		t.Fatalf("record after the outage: %+v, %v", rec, err)
	}
	if code, _, replayed := post(); code != 201 || replayed != "true" || runs.Load() != 1 {
		t.Errorf("retry: %d replayed=%q, %d runs; want the replay and one run", code, replayed, runs.Load())
	}
	flaky.claimDown.Store(true)
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("pay"))
	req.Header.Set(idempotency.Header, "k-new")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || runs.Load() != 1 {
		t.Errorf("a fresh key with the store down: %d, %d runs; want 503 and no run", resp.StatusCode, runs.Load())
	}
	// The 503 is the keeper's own: it says why, whichever API's envelope answers it.
	if out := logs.String(); !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "idempotency: the key store cannot answer") || !strings.Contains(out, `"op":"claim"`) {
		t.Errorf("no WARN line for the unclaimable key:\n%s", out)
	}
}

// unknownClaimStore stores its first claim and answers it as a write whose COMMIT went
// unanswered (vault.ErrOutcomeUnknown), as PostgreSQL frozen at that COMMIT does.
type unknownClaimStore struct {
	idempotency.Store
	claims atomic.Int32
}

func (s *unknownClaimStore) ClaimIdempotencyKey(ctx context.Context, rec *idempotency.Record, expired, stale time.Time) (*idempotency.Record, error) {
	cur, err := s.Store.ClaimIdempotencyKey(ctx, rec, expired, stale)
	if s.claims.Add(1) == 1 && err == nil {
		return nil, vault.E("test", vault.Unavailable, vault.ErrOutcomeUnknown)
	}
	return cur, err
}

// TestUnknownClaimReleased: a claim whose write's outcome is unknown answers 503 (the request
// did not run) and is released, so that a retry runs at once instead of waiting for a pending
// key that no request will finish, and being refused until it goes stale.
func TestUnknownClaimReleased(t *testing.T) {
	st, kr := mustSQLiteKeyring(t)
	k := idempotency.New(&unknownClaimStore{Store: st}, kr, idempotency.Config{Wait: 2 * time.Second})
	var runs atomic.Int32
	serve := func() int {
		r := httptest.NewRequest("POST", "/things", strings.NewReader("x"))
		r.Header.Set(idempotency.Header, "k-unknown")
		w := httptest.NewRecorder()
		k.Serve(w, r, "m1", "test", func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
			if why == idempotency.Unavailable {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusConflict)
		}, nil, func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			w.WriteHeader(http.StatusCreated)
		})
		return w.Code
	}
	if code := serve(); code != 503 || runs.Load() != 0 {
		t.Fatalf("first: %d, %d runs; want 503 and no run", code, runs.Load())
	}
	if code := serve(); code != 201 || runs.Load() != 1 {
		t.Errorf("retry: %d, %d runs; want 201 and one run", code, runs.Load())
	}
}

// releaseDownStore fails every ReleaseIdempotencyKey while down is set, as a store whose
// database went away during the request does.
type releaseDownStore struct {
	idempotency.Store
	down atomic.Bool
}

func (s *releaseDownStore) ReleaseIdempotencyKey(ctx context.Context, rec *idempotency.Record) error {
	if s.down.Load() {
		return vault.E("test", vault.Unavailable)
	}
	return s.Store.ReleaseIdempotencyKey(ctx, rec)
}

// TestFailureReleasedAfterOutage: a request that failed (503) because the database went away
// is forgotten once the database is back, however long it was away, so that its retry runs
// at once. Its key was left pending when the release gave up after 2 s, and every retry then
// waited (60 s each) and was refused until the key went stale, 5 minutes later: clients
// retrying after a 20 s PostgreSQL outage were blocked for 5 minutes.
func TestFailureReleasedAfterOutage(t *testing.T) {
	st, kr := mustSQLiteKeyring(t)
	flaky := &releaseDownStore{Store: st}
	k := idempotency.New(flaky, kr, idempotency.Config{Wait: 5 * time.Second})
	var runs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Serve(w, r, "m1", "test", func(w http.ResponseWriter, r *http.Request, why idempotency.Reason) {
			w.WriteHeader(http.StatusConflict)
		}, nil, func(w http.ResponseWriter, r *http.Request) {
			if runs.Add(1) == 1 {
				flaky.down.Store(true) // the database goes away: the request fails
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusCreated)
		})
	}))
	t.Cleanup(srv.Close)
	post := func() int {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("pay"))
		req.Header.Set(idempotency.Header, "k-failed")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != 503 {
		t.Errorf("first answer %d; want 503", code)
	}
	time.Sleep(3 * time.Second) // the outage outlasts the release's first tries
	flaky.down.Store(false)
	// Before the fix the key stayed pending: the retry waited out Wait and was refused (409).
	if code := post(); code != 201 || runs.Load() != 2 {
		t.Errorf("retry after the outage: %d, %d runs; want it run again", code, runs.Load())
	}
}

// TestLegacyScopeReplayed: a key an earlier payvault kept under the scope every Fortis user of
// a merchant then shared is found by a retry that now comes under the user's own scope, so a
// request retried across the upgrade is replayed rather than run again; a key kept there for
// another request does not stop this one, and the retry's key under the new scope is freed.
func TestLegacyScopeReplayed(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		s.scope = "fortis" // as an earlier node kept it
		first := s.post(t, "/things", "m1", "k1", `{"a":1}`)
		if first.Status != 201 || s.runs.Load() != 1 {
			t.Fatalf("first = %+v, runs %d", first, s.runs.Load())
		}
		s.scope = "fortis:user:u1"
		again := s.post(t, "/things", "m1", "k1", `{"a":1}`)
		if again.Status != 201 || again.Body != first.Body || again.Replayed != "true" || s.runs.Load() != 1 {
			t.Errorf("retry across the upgrade = %+v, runs %d; want the first answer replayed", again, s.runs.Load())
		}
		// The same key for another request under the old scope: this one runs.
		other := s.post(t, "/things", "m1", "k1", `{"a":2}`)
		if other.Status != 201 || other.Replayed != "" || s.runs.Load() != 2 {
			t.Errorf("another request = %+v, runs %d; want it run", other, s.runs.Load())
		}
		// A key kept under the new scope only is the new scope's.
		s.scope = "fortis:user:u2"
		if a := s.post(t, "/things", "m1", "k2", `{"a":3}`); a.Status != 201 || a.Replayed != "" || s.runs.Load() != 3 {
			t.Errorf("new key = %+v, runs %d", a, s.runs.Load())
		}
		if a := s.post(t, "/things", "m1", "k2", `{"a":3}`); a.Replayed != "true" || s.runs.Load() != 3 {
			t.Errorf("its retry = %+v, runs %d", a, s.runs.Load())
		}
	})
}

// mustLeaveOpen posts body "a" to /pay with key, whose answer is kept open (the refresh has no
// final answer yet), and then its repeat: open first, then open replayed.
func (s *server) mustLeaveOpen(t *testing.T, key string, open answer) {
	t.Helper()
	if got := s.post(t, "/pay", "m1", key, "a"); got != open {
		t.Errorf("first = %+v, want %+v", got, open)
	}
	open.Replayed = "true"
	if got := s.post(t, "/pay", "m1", key, "a"); got != open {
		t.Errorf("repeat while open = %+v, want %+v", got, open)
	}
}

// TestOpenAnswerRefreshed: a server failure answered after the request made a payment (Made: a
// payment whose processor was called and whose outcome could not be recorded) is kept open. It
// is replayed while its outcome stays open, and replaced by the final answer once the API's
// Refresh has one; later repeats get that final answer as kept, without asking again. The
// reference never reaches the client.
func TestOpenAnswerRefreshed(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			idempotency.Made(r.Context(), "txn-1")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"in flight"}`)
		}
		var final atomic.Value // the final body; "" while the outcome is open
		final.Store("")
		var refreshes atomic.Int32
		s.refresh = func(w http.ResponseWriter, r *http.Request, ref string) bool {
			refreshes.Add(1)
			if ref != "txn-1" {
				t.Errorf("refresh of %q, want txn-1", ref)
			}
			body := final.Load().(string)
			if body == "" {
				return false
			}
			w.Header().Set("Location", "/things/txn-1")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, body)
			return true
		}
		s.mustLeaveOpen(t, "k", answer{http.StatusServiceUnavailable, `{"error":"in flight"}`, "", ""})
		final.Store(`{"status":"COMPLETED"}`)
		done := answer{http.StatusCreated, `{"status":"COMPLETED"}`, "/things/txn-1", "true"}
		if got := s.post(t, "/pay", "m1", "k", "a"); got != done {
			t.Errorf("repeat once completed = %+v, want %+v", got, done)
		}
		final.Store(`{"status":"SETTLED"}`)
		if got := s.post(t, "/pay", "m1", "k", "a"); got != done {
			t.Errorf("later repeat = %+v, want the final answer as kept %+v", got, done)
		}
		if runs, n := s.runs.Load(), refreshes.Load(); runs != 1 || n != 2 {
			t.Errorf("%d runs and %d refreshes, want 1 and 2", runs, n)
		}
		rec, err := s.store.GetIdempotencyKey(t.Context(), "m1", "test", "k")
		if err != nil || len(rec.Header.Values("Payvault-Open-Ref")) != 0 || rec.Header.Get(idempotency.ReplayedHeader) != "" {
			t.Errorf("kept final answer: %+v, %v", rec, err)
		}
		// The reference is kept with the open answer only, and never sent.
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			idempotency.Made(r.Context(), "txn-2")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		s.refresh = nil
		for range 2 {
			req, _ := http.NewRequest("POST", s.url+"/pay", strings.NewReader("b"))
			req.Header.Set("X-Merchant", "m1")
			req.Header.Set(idempotency.Header, "k2")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || len(resp.Header.Values("Payvault-Open-Ref")) != 0 {
				t.Errorf("answer %d, headers %v", resp.StatusCode, resp.Header)
			}
		}
		if rec, err := s.store.GetIdempotencyKey(t.Context(), "m1", "test", "k2"); err != nil || rec.Header.Get("Payvault-Open-Ref") != "txn-2" {
			t.Errorf("open answer kept without its reference: %+v, %v", rec, err)
		}
	})
}

// TestBoundKeyNeverRunsAgain: a request that made a payment binds its key to it (the write
// that records the payment before its processor call) and says so (Made). Were its node to die
// then, its key would go stale: a retry is then never run again, but told the request is still
// being processed until the API's Refresh has the payment's final answer, which it gets and
// which is kept. A server failure answered after Made is kept open, not forgotten.
func TestBoundKeyNeverRunsAgain(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		final := s.refreshFinal()

		// The node "dies" during the processor call: the handler never returns.
		hung := make(chan struct{})
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			s.bind(t, r, "txn-9")
			if s.runs.Load() == 1 {
				<-hung
			}
			w.WriteHeader(http.StatusCreated)
		}
		first := make(chan answer, 1)
		go func() { first <- s.post(t, "/pay", "m1", "k-dead", "a") }()
		s.mustBeBound(t, "k-dead", "txn-9")
		s.now.Add((6 * time.Minute).Milliseconds()) // past StaleAfter: the request is presumed dead
		if got := s.post(t, "/pay", "m1", "k-dead", "a"); got.Status != http.StatusConflict || got.Body != `{"why":2}` {
			t.Errorf("retry while the payment is open = %+v, want 409 InProgress", got)
		}
		final.Store(`"status":"COMPLETED"`)
		want := answer{http.StatusCreated, `{"ref":"txn-9","status":"COMPLETED"}`, "", "true"}
		if got := s.post(t, "/pay", "m1", "k-dead", "a"); got != want {
			t.Errorf("retry once the payment is complete = %+v, want %+v", got, want)
		}
		final.Store(`"status":"SETTLED"`)
		if got := s.post(t, "/pay", "m1", "k-dead", "a"); got != want {
			t.Errorf("later retry = %+v, want the kept %+v", got, want)
		}
		if got := s.post(t, "/pay", "m1", "k-dead", "b"); got.Status != http.StatusConflict || got.Body != `{"why":1}` {
			t.Errorf("another request with the key = %+v, want 409 Mismatch", got)
		}
		if n := s.runs.Load(); n != 1 {
			t.Errorf("%d runs, want 1", n)
		}
		close(hung)
		<-first

		// A payment whose outcome is recorded answers a retry at once, before its key is
		// stale (recovery resolved it sooner, or its own request has yet to answer).
		hung = make(chan struct{})
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			s.bind(t, r, "txn-11")
			<-hung
			w.WriteHeader(http.StatusCreated)
		}
		final.Store("")
		go func() { first <- s.post(t, "/pay", "m1", "k-early", "a") }()
		s.mustBeBound(t, "k-early", "txn-11")
		final.Store(`"status":"COMPLETED"`)
		if got := s.post(t, "/pay", "m1", "k-early", "a"); got.Body != `{"ref":"txn-11","status":"COMPLETED"}` || got.Replayed != "true" {
			t.Errorf("retry of a recorded payment before its key is stale = %+v", got)
		}
		close(hung)
		<-first
		if n := s.runs.Load(); n != 2 {
			t.Errorf("%d runs, want 2", n)
		}

		// A server failure answered after the payment was made is kept open.
		final.Store("")
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			s.bind(t, r, "txn-10")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"rendering failed"}`)
		}
		s.mustLeaveOpen(t, "k-made", answer{http.StatusServiceUnavailable, `{"error":"rendering failed"}`, "", ""})
		final.Store(`"status":"COMPLETED"`)
		if got := s.post(t, "/pay", "m1", "k-made", "a"); got.Body != `{"ref":"txn-10","status":"COMPLETED"}` {
			t.Errorf("retry once complete = %+v", got)
		}
		if n := s.runs.Load(); n != 3 {
			t.Errorf("%d runs, want 2", n)
		}
	})
}

// TestPanicReleasesUnlessMade: a request that panics frees its key, so that a retry runs
// again, unless it had made a payment (Made): that key stays bound to the payment.
func TestPanicReleasesUnlessMade(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			if body == "made" {
				c, _ := idempotency.Claimed(r.Context())
				if err := s.store.Write(r.Context(), func(tx vault.Tx) error {
					return tx.(payments.Tx).BindIdempotencyKey(r.Context(), c, "txn-p")
				}); err != nil {
					t.Error(err)
				}
				idempotency.Made(r.Context(), "txn-p")
			}
			panic(http.ErrAbortHandler) // net/http closes the connection quietly
		}
		for _, body := range []string{"plain", "made"} {
			req, _ := http.NewRequest("POST", s.url+"/pay", strings.NewReader(body))
			req.Header.Set("X-Merchant", "m1")
			req.Header.Set(idempotency.Header, "k-"+body)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		if _, err := s.store.GetIdempotencyKey(t.Context(), "m1", "test", "k-plain"); vault.KindOf(err) != vault.NotFound {
			t.Errorf("a panicking request's key was not released: %v", err)
		}
		if rec, err := s.store.GetIdempotencyKey(t.Context(), "m1", "test", "k-made"); err != nil || rec.Bound() != "txn-p" {
			t.Errorf("a panicking request that made a payment: %+v, %v; want its key bound", rec, err)
		}
	})
}

// TestBoundKeyAnsweredOnceComplete: a retry that comes while a payment's request is still
// pending (its node died in the processor call, before its key is stale) waits for it, and
// gets the payment's answer as soon as recovery has recorded it: recovery completes the
// transaction, never the key's record, so a wait that watched the record alone held the retry
// for the whole Wait (60 s in the app, past many clients' timeouts) after the payment had its
// outcome. Found by killing a node mid-auth in a walkthrough of docs/operations.md.
func TestBoundKeyAnsweredOnceComplete(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		final := s.refreshFinal()
		hung := make(chan struct{})
		s.handler = func(w http.ResponseWriter, r *http.Request, body string) {
			s.bind(t, r, "txn-12")
			<-hung // the node "dies" in the processor call
		}
		first := make(chan answer, 1)
		go func() { first <- s.post(t, "/pay", "m1", "k-recovered", "a") }()
		s.mustBeBound(t, "k-recovered", "txn-12")
		retry := make(chan answer, 1)
		go func() { retry <- s.post(t, "/pay", "m1", "k-recovered", "a") }()
		time.Sleep(300 * time.Millisecond) // the retry is waiting
		final.Store(`"status":"FAILED"`)   // recovery completed the transaction
		want := answer{http.StatusCreated, `{"ref":"txn-12","status":"FAILED"}`, "", "true"}
		select {
		case got := <-retry:
			if got != want {
				t.Errorf("retry = %+v, want %+v", got, want)
			}
		case <-time.After(5 * time.Second): // half the server's Wait
			t.Error("the retry still waits after the payment has its outcome")
			<-retry
		}
		close(hung)
		<-first
		if n := s.runs.Load(); n != 1 {
			t.Errorf("%d runs, want 1", n)
		}
	})
}

// bind binds the key r claimed to the payment ref, as a payment's first write does
// (payments.Tx.BindIdempotencyKey), and says so (Made).
func (s *server) bind(tb testing.TB, r *http.Request, ref string) {
	tb.Helper()
	c, ok := idempotency.Claimed(r.Context())
	if !ok {
		tb.Error("no claim in the request's context")
		return
	}
	if err := s.store.Write(r.Context(), func(tx vault.Tx) error {
		return tx.(payments.Tx).BindIdempotencyKey(r.Context(), c, ref)
	}); err != nil {
		tb.Error(err)
	}
	idempotency.Made(r.Context(), ref)
}

// refreshFinal sets s's Refresh to answer 201 {"ref":REF,FINAL} once the returned value holds
// a FINAL, and to have no final answer while it holds "" (the payment is open), as it does
// at first.
func (s *server) refreshFinal() *atomic.Value {
	var final atomic.Value
	final.Store("")
	s.refresh = func(w http.ResponseWriter, r *http.Request, ref string) bool {
		body := final.Load().(string)
		if body == "" {
			return false
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ref":"`+ref+`",`+body+`}`)
		return true
	}
	return &final
}

// mustBeBound waits up to 10 s for merchant m1's key to be bound to ref.
func (s *server) mustBeBound(tb testing.TB, key, ref string) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if rec, err := s.store.GetIdempotencyKey(context.Background(), "m1", "test", key); err == nil && rec.Bound() == ref {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s was never bound to %s", key, ref)
		}
	}
}
