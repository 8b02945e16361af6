package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/payvault/payvault/internal/vault"
)

// Card reads ahead.
//
// An auth by card token reads its card (and its profile's names, and its billing address)
// before it writes. On PostgreSQL those reads were statements of their own on the pool,
// before the write: a round trip or two per auth, each waking a backend on CPUs that the
// server, its clients and PostgreSQL share. A write marked with vault.WithTokenRead now
// reads its card inside its batch instead: the batch reads the cards of all its marked
// writes in one statement, and their billing addresses in one more when some have one,
// after its BEGIN and before any fn runs (txConn.readAhead), and each fn's
// GetInstrumentByTokenWithCustomer and GetAddress is answered from that (txConn.aheadCard,
// txConn.aheadAddress).
//
// SQLite does the same (since stop 41): there a statement is no round trip, but each costs
// the one writer its own run through the driver and the VM. Reading a batch's cards in one
// statement measured less CPU an auth in BenchmarkAuthorizeManyCards (the service and the
// store, no HTTP) in three of four alternating pairs, and within the noise over HTTP
// (docs/benchmarks.md, stop 41): reading the rows' columns, which remains, is most of a read.
// There the list is one JSON array argument (json_each), so that the statement text is the
// same whatever the batch's size and stays prepared.
//
// What was read ahead is what the fn's own read would have found, had nothing of the batch
// run before it: it is a read of the same transaction, and as unlocked as the fn's own
// (an auth is ordered as of its card's read, as it was when it read before its write). So
// it is forgotten once a statement of the transaction may have changed an instrument, a
// profile or an address (txConn.noteAhead): every statement that writes, but those that
// write only transactions and idempotency records, and a card's VERIFIED mark, which
// forgets that card alone. A read it cannot answer (a token not read ahead, another
// merchant's) runs as usual.

// ahead is what a transaction read ahead.
type ahead struct {
	cards map[string]aheadCard      // cards by token
	addrs map[string]*vault.Address // the cards' billing addresses by id
}

// aheadCard is an instrument read ahead, with its profile's names.
type aheadCard struct {
	in   *vault.Instrument
	cust vault.Customer
}

// tokenReadsSQL reads the active instruments with the given tokens, with their profiles'
// names: GetInstrumentByTokenWithCustomer for many tokens (a token is unique across
// merchants; the merchant is checked when a read is answered).
var tokenReadsSQL = listArgSQL{
	pg:     withCustomerLateralSQL + " WHERE token = ANY($1) AND deleted_at = 0",
	sqlite: withCustomerSQL + " WHERE token IN (SELECT value FROM json_each(?)) AND deleted_at = 0",
}

// addressesSQL reads addresses by id.
var addressesSQL = func() listArgSQL {
	_, cs := newAddress()
	sel := "SELECT " + names(cs) + " FROM addresses WHERE id "
	return listArgSQL{pg: sel + "= ANY($1)", sqlite: sel + "IN (SELECT value FROM json_each(?))"}
}()

// listArgSQL is a read of many rows by one list argument (readRows): an array on PostgreSQL,
// a JSON array on SQLite (one statement text whatever the list's length, which the write
// connection keeps prepared).
type listArgSQL struct{ pg, sqlite string }

// readAhead reads, in one statement, the cards of the requests marked with
// vault.WithTokenRead, when there are two or more, and in one more the billing addresses
// of those that have one. It must run before any fn.
func (c *txConn) readAhead(reqs []*writeReq) error {
	tokens := hinted(reqs, vault.TokenReadFrom)
	if len(tokens) < 2 {
		return nil // no statement to save
	}
	a := &ahead{cards: make(map[string]aheadCard, len(tokens))}
	var addrIDs []string
	err := c.readRows(tokenReadsSQL, tokens, func(rows *sql.Rows) error {
		in, cs := newInstrument()
		var cust vault.Customer
		if err := rows.Scan(append(ptrs(cs), &cust.FirstName, &cust.LastName, &cust.Email)...); err != nil {
			return err
		}
		fixInstrument(in)
		a.cards[in.Token] = aheadCard{in: in, cust: cust}
		if in.BillingAddressID != "" && !unstorable(in.BillingAddressID) {
			addrIDs = append(addrIDs, in.BillingAddressID)
		}
		return nil
	})
	if err == nil && len(addrIDs) > 0 {
		a.addrs = make(map[string]*vault.Address, len(addrIDs))
		err = c.readRows(addressesSQL, addrIDs, func(rows *sql.Rows) error {
			ad, cs := newAddress()
			if err := rows.Scan(ptrs(cs)...); err != nil {
				return err
			}
			a.addrs[ad.ID] = ad
			return nil
		})
	}
	if err != nil {
		return err
	}
	c.ahead = a
	return nil
}

// readRows runs query, of one list argument, in the transaction and hands each row to scan.
func (c *txConn) readRows(query listArgSQL, arg []string, scan func(*sql.Rows) error) error {
	var rows *sql.Rows
	var err error
	if c.pg {
		rows, err = c.tx.QueryContext(c.dl.start(), query.pg, arg)
	} else {
		list, _ := json.Marshal(arg)
		rows, err = c.query(query.sqlite, string(list))
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// aheadCard answers GetInstrumentByTokenWithCustomer from the cards read ahead, when it can.
func (c *txConn) aheadCard(merchantID, token string) (*vault.Instrument, vault.Customer, bool) {
	if c.ahead == nil {
		return nil, vault.Customer{}, false
	}
	a, ok := c.ahead.cards[token]
	if !ok || a.in.MerchantID != merchantID {
		return nil, vault.Customer{}, false
	}
	in := *a.in
	return &in, a.cust, true
}

// aheadAddress answers GetAddress from the addresses read ahead, when it can.
func (c *txConn) aheadAddress(merchantID, profileID, id string) (*vault.Address, bool) {
	if c.ahead == nil {
		return nil, false
	}
	a, ok := c.ahead.addrs[id]
	if !ok || a.MerchantID != merchantID || a.ProfileID != profileID {
		return nil, false
	}
	cp := *a
	return &cp, true
}

// forgetCard drops the card with id from the cards read ahead.
func (c *txConn) forgetCard(id string) {
	if c.ahead == nil {
		return
	}
	for tok, a := range c.ahead.cards {
		if a.in.ID == id {
			delete(c.ahead.cards, tok)
		}
	}
}

// noteAhead forgets the cards read ahead when query, a statement of the transaction, may
// change an instrument, a profile or an address.
func (c *txConn) noteAhead(query string) {
	if c.ahead == nil || strings.HasPrefix(query, "SELECT ") {
		return
	}
	for _, keep := range aheadKeeps {
		if strings.HasPrefix(query, keep) {
			return
		}
	}
	c.ahead = nil
}

// aheadKeeps are the prefixes of the writing statements that change no instrument and no
// profile and no address. SetCardVerified forgets its card itself.
var aheadKeeps = []string{
	"INSERT INTO transactions ", "UPDATE transactions ", "UPDATE idempotency ",
	"UPDATE instruments SET stored_credential_status = 'VERIFIED' WHERE ",
}
