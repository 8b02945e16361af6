package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/keys"
)

// BrowserWindow is how far a browser credential's timestamp may be from the server clock.
const BrowserWindow = 900 * time.Second

// AuthenticateBrowser checks a location's browser credential: the public location api key, a
// Unix timestamp in seconds within BrowserWindow of now, and hashKey, the lower- or upper-case
// hex of HMAC-SHA256(key = the location's ticket hash key, message = locationAPIKey +
// timestamp), which the merchant's server computes and hands to the browser. The comparison
// runs in constant time. The principal has Kind "browser" and reaches only that location.
// Kinds: Unauthenticated.
func (s *Service) AuthenticateBrowser(ctx context.Context, locationAPIKey, timestamp, hashKey string) (*Principal, error) {
	const op = "vault.AuthenticateBrowser"
	fail := E(op, Unauthenticated, errBadCredentials)
	if locationAPIKey == "" || timestamp == "" || hashKey == "" || len(timestamp) > 12 {
		return nil, fail
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return nil, fail
	}
	if d := s.Now().Sub(time.Unix(ts, 0)); d > BrowserWindow || d < -BrowserWindow {
		return nil, fail
	}
	loc, err := s.store.GetLocationByAPIKey(ctx, locationAPIKey)
	if err != nil {
		if KindOf(err) == NotFound {
			s.decoyCheck(locationAPIKey, timestamp, hashKey)
			return nil, fail
		}
		return nil, E(op, err)
	}
	key, err := s.RevealTicketHashKey(loc)
	if err != nil {
		return nil, E(op, err)
	}
	if !constantEqual(BrowserHashKey(key, locationAPIKey, timestamp), strings.ToLower(hashKey)) {
		return nil, fail
	}
	m, err := s.store.GetMerchant(ctx, loc.MerchantID)
	if err != nil {
		return nil, E(op, err)
	}
	return &Principal{Merchant: m, Kind: "browser", CredID: loc.ID, Location: loc.ID, Allowed: []string{loc.ID}}, nil
}

// BrowserHashKey returns the hash-key a merchant's server hands to a browser for a location's
// api key and ticket hash key at a Unix timestamp: hex(HMAC-SHA256(ticketHashKey,
// locationAPIKey + timestamp)).
func BrowserHashKey(ticketHashKey, locationAPIKey, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(ticketHashKey))
	mac.Write([]byte(locationAPIKey + timestamp))
	return hex.EncodeToString(mac.Sum(nil))
}

// decoyCheck does for an unknown location api key the work a wrong hash-key costs, so that
// the work (and the time) of a failure does not tell whether the key exists: it opens a decoy
// location's sealed ticket hash key and compares one HMAC. The decoy is sealed on first use,
// and again when it no longer opens (its data key disabled or destroyed since); whatever
// happens to it, the answer stays the caller's failure.
func (s *Service) decoyCheck(locationAPIKey, timestamp, hashKey string) {
	d := &s.decoy
	d.mu.Lock()
	l := d.loc
	d.mu.Unlock()
	var key string
	opened := false
	if l != nil {
		k, err := s.RevealTicketHashKey(l)
		key, opened = k, err == nil
	}
	if !opened {
		l = &Location{ID: newID(), MerchantID: newID()}
		ct, kid, err := s.seal("vault.decoyCheck", ticketKeyAD(l), []byte(keys.RandomString(36, keys.Alnum)))
		if err == nil {
			l.SealedTicketKey = Sealed{KeyID: kid, Extra: ct}
			d.mu.Lock()
			d.loc = l
			d.mu.Unlock()
			key, _ = s.RevealTicketHashKey(l)
		}
	}
	_ = constantEqual(BrowserHashKey(key, locationAPIKey, timestamp), strings.ToLower(hashKey))
}
