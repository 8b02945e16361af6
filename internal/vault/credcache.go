package vault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// credCache remembers, for a short time, credentials that verified, so that a busy client
// does not cost two or three store reads on every request.
//
// An entry is keyed by an HMAC of the whole credential (kind, ids and secret) under a key
// drawn at random when the Service starts. So only a request carrying exactly a credential
// that verified against the store finds an entry; any other (an unknown id, a wrong secret)
// misses and is checked against the store as before, and takes the time it did before. The
// cache holds the MAC and the records the check read (the merchant, the key or user record),
// never a secret, and the MAC is useless without the random key, which never leaves memory.
//
// It keeps, by the same rules, the locations (without their ticket key) and product
// transactions that request paths look up by account number or id (LocationByAccount,
// Location, ProductTransaction): records of the merchant's set-up, no secret either.
//
// An entry lives for ttl. A change this Service makes to merchants, locations or users (user
// update, allowed origins, a new default service) drops every entry at once; a change made
// elsewhere (another node, a CLI tool) is seen within ttl. The maps are bounded: when one is
// full an arbitrary entry goes.
type credCache struct {
	ttl time.Duration
	max int
	key [32]byte
	now func() time.Time

	mu   sync.RWMutex
	gen  uint64
	m    map[[32]byte]credEntry
	locs map[string]kept[Location]           // locs are locations by account number or id (LocationByAccount, Location).
	pts  map[string]kept[ProductTransaction] // pts are product transactions by id (ProductTransaction).
}

// kept is a record kept in the cache.
type kept[T any] struct {
	v       T
	expires time.Time
	gen     uint64
}

// credEntry is what a verified credential resolved to.
type credEntry struct {
	merchant Merchant
	kind     string
	credID   string
	user     *User // user is the Fortis user, for kind "user".
	allowed  []string
	expires  time.Time
	gen      uint64
}

// DefaultCredentialCacheTTL is how long a verified credential is remembered by default.
const DefaultCredentialCacheTTL = 2 * time.Second

// maxCredEntries bounds the cache.
const maxCredEntries = 4096

func newCredCache(ttl time.Duration, now func() time.Time) *credCache {
	if ttl <= 0 {
		return nil
	}
	c := &credCache{ttl: ttl, max: maxCredEntries, now: now, m: map[[32]byte]credEntry{},
		locs: map[string]kept[Location]{}, pts: map[string]kept[ProductTransaction]{}}
	rand.Read(c.key[:])
	return c
}

// mac returns the cache key of a credential made of parts.
func (c *credCache) mac(parts ...string) [32]byte {
	if c == nil {
		return [32]byte{}
	}
	h := hmac.New(sha256.New, c.key[:])
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// get returns a new Principal for the credential k, if it verified within ttl.
func (c *credCache) get(k [32]byte) (*Principal, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || e.gen != gen || !c.now().Before(e.expires) {
		return nil, false
	}
	m := e.merchant
	p := &Principal{Merchant: &m, Kind: e.kind, CredID: e.credID, Allowed: e.allowed}
	if e.user != nil {
		u := *e.user
		p.User = &u
	}
	return p, true
}

// generation returns the cache's generation, to pass to put: read it before reading the
// records a credential is checked against.
func (c *credCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put remembers that credential k verified as p, from records read after generation gen was
// current; if the cache was invalidated since, the records may be stale and are not kept.
func (c *credCache) put(k [32]byte, gen uint64, p *Principal) {
	if c == nil {
		return
	}
	e := credEntry{merchant: *p.Merchant, kind: p.Kind, credID: p.CredID, allowed: p.Allowed, expires: c.now().Add(c.ttl)}
	if p.User != nil {
		u := *p.User
		e.user = &u
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	e.gen = gen
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = e
}

// location returns a copy of the location kept under key, if found within ttl.
func (c *credCache) location(key string) (*Location, bool) {
	l, ok := keptGet(c, c.locs, key)
	if ok {
		l.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	}
	return l, ok
}

// putLocation remembers l, read after generation gen was current, under key, without its
// ticket key.
func (c *credCache) putLocation(key string, gen uint64, l *Location) {
	v := *l
	v.SealedTicketKey, v.TicketHashKey = Sealed{}, ""
	v.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	keptPut(c, c.locs, key, gen, v)
}

// productTransaction returns a copy of the product transaction kept under key, if found
// within ttl.
func (c *credCache) productTransaction(key string) (*ProductTransaction, bool) {
	return keptGet(c, c.pts, key)
}

// putProductTransaction remembers pt, read after generation gen was current, under key.
func (c *credCache) putProductTransaction(key string, gen uint64, pt *ProductTransaction) {
	keptPut(c, c.pts, key, gen, *pt)
}

// keptGet returns a copy of the record kept in m under key, if it is of the current
// generation and within ttl.
func keptGet[T any](c *credCache, m map[string]kept[T], key string) (*T, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := m[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || e.gen != gen || !c.now().Before(e.expires) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// keptPut keeps v in m under key, unless the cache was invalidated since generation gen (v
// may then be stale). The map is bounded: when it is full an arbitrary entry goes.
func keptPut[T any](c *credCache, m map[string]kept[T], key string, gen uint64, v T) {
	if c == nil {
		return
	}
	e := kept[T]{v: v, expires: c.now().Add(c.ttl), gen: gen}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := m[key]; !ok && len(m) >= c.max {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[key] = e
}

// invalidate drops every entry: a merchant, location or user changed.
func (c *credCache) invalidate() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	clear(c.m)
	clear(c.locs)
	clear(c.pts)
	c.mu.Unlock()
}
