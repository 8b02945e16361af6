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
// An entry lives for ttl. A change this Service makes to merchants or users (user update,
// allowed origins) drops every entry at once; a change made elsewhere (another node, a CLI
// tool) is seen within ttl. The map is bounded: when it is full an arbitrary entry goes.
type credCache struct {
	ttl time.Duration
	max int
	key [32]byte
	now func() time.Time

	mu   sync.RWMutex
	gen  uint64
	m    map[[32]byte]credEntry
	locs map[string]locEntry // locs are locations by account number or id (LocationByAccount, Location).
	pts  map[string]ptEntry  // pts are product transactions by id (ProductTransaction).
}

// ptEntry is a product transaction found by id.
type ptEntry struct {
	pt      ProductTransaction
	expires time.Time
	gen     uint64
}

// locEntry is a location found by its account number, without its sealed ticket key.
type locEntry struct {
	loc     Location
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
	c := &credCache{ttl: ttl, max: maxCredEntries, now: now, m: map[[32]byte]credEntry{}, locs: map[string]locEntry{}, pts: map[string]ptEntry{}}
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
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.locs[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || e.gen != gen || !c.now().Before(e.expires) {
		return nil, false
	}
	l := e.loc
	l.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	return &l, true
}

// putLocation remembers l, read after generation gen was current, under key.
func (c *credCache) putLocation(key string, gen uint64, l *Location) {
	if c == nil {
		return
	}
	e := locEntry{loc: *l, expires: c.now().Add(c.ttl), gen: gen}
	e.loc.SealedTicketKey, e.loc.TicketHashKey = Sealed{}, ""
	e.loc.AllowedOrigins = slices.Clone(l.AllowedOrigins)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.locs[key]; !ok && len(c.locs) >= c.max {
		for old := range c.locs {
			delete(c.locs, old)
			break
		}
	}
	c.locs[key] = e
}

// productTransaction returns a copy of the product transaction kept under key, if found
// within ttl.
func (c *credCache) productTransaction(key string) (*ProductTransaction, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.pts[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || e.gen != gen || !c.now().Before(e.expires) {
		return nil, false
	}
	pt := e.pt
	return &pt, true
}

// putProductTransaction remembers pt, read after generation gen was current, under key.
func (c *credCache) putProductTransaction(key string, gen uint64, pt *ProductTransaction) {
	if c == nil {
		return
	}
	e := ptEntry{pt: *pt, expires: c.now().Add(c.ttl), gen: gen}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.pts[key]; !ok && len(c.pts) >= c.max {
		for old := range c.pts {
			delete(c.pts, old)
			break
		}
	}
	c.pts[key] = e
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
