package vault

import (
	"context"
	"encoding/json"
)

// NameLister reads, for ScanNames, the columns in the clear that hold names and labels. The
// SQL store implements it.
type NameLister interface {
	// NameColumns returns up to limit records of table with an id after the given one (all
	// records when after is ""), in id order: each one's id, merchant and the values of
	// columns, in their order. Kinds: Internal (a table or column it does not list),
	// Unavailable.
	NameColumns(ctx context.Context, table string, columns []string, after string, limit int) ([]NameRow, error)
}

// NameRow is one record NameColumns read.
type NameRow struct {
	ID, MerchantID string
	Values         []string
}

// nameTables are the tables and columns ScanNames reads, with the check each record kind
// passes on every create and update (names.go), which returns the fields that hold a card
// number. The fields are the columns, but for a single-use token, whose names are in its
// meta column's JSON (fields lists them, in the report's order).
var nameTables = []struct {
	table   string
	columns []string
	check   func(v []string) error
	fields  []string
}{
	{"instruments", []string{"holder_name", "nick_name", "title"}, func(v []string) error {
		return (&Instrument{HolderName: v[0], NickName: v[1], Title: v[2]}).CheckNames()
	}, nil},
	{"profiles", []string{"first_name", "middle_name", "last_name", "company_name"}, func(v []string) error {
		return (&Profile{FirstName: v[0], MiddleName: v[1], LastName: v[2], CompanyName: v[3]}).checkNames()
	}, nil},
	{"addresses", []string{"nick_name", "recipient_name"}, func(v []string) error {
		return (&Address{NickName: v[0], RecipientName: v[1]}).checkNames()
	}, nil},
	{"onetime_tokens", []string{"meta"}, func(v []string) error {
		var m TokenMeta
		if json.Unmarshal([]byte(v[0]), &m) != nil {
			return nil // not the store's JSON: nothing this check can read
		}
		return m.checkNames()
	}, []string{"holder_name", "first_name", "last_name"}},
	{"transactions", []string{"holder_name"}, func(v []string) error { return CheckName("holder_name", v[0]) }, nil},
}

// MaxNameRecordsListed is how many records a NameReport lists; it counts them all.
const MaxNameRecordsListed = 100

// NameReport is what ScanNames found: the stored records whose name or label holds a probable
// card number (card.ContainsPAN), stored before the vault refused them. It names tables,
// fields and records, never a value.
type NameReport struct {
	// Records counts the records read, and Holding those holding a card number in a field.
	Records int `json:"records"`
	Holding int `json:"holding"`
	// Found counts the records found, by table and field, in the order of the scan.
	Found []NameCount `json:"found"`
	// Listed are the first MaxNameRecordsListed records found, with their first such field.
	Listed []NameRecord `json:"listed"`
}

// NameCount is how many records of a table hold a card number in a field.
type NameCount struct {
	Table   string `json:"table"`
	Field   string `json:"field"`
	Records int    `json:"records"`
}

// NameRecord is a record holding a card number in a name field.
type NameRecord struct {
	Table      string `json:"table"`
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	Field      string `json:"field"`
}

// ScanNames reads, in batches of batch records in id order (its memory is bounded by a
// batch), every name and label the vault refuses a card number in (names.go): instruments,
// profiles, addresses, single-use tokens and transactions. Records stored before that
// refusal, or written to the database otherwise, may hold one in the clear; it counts them
// by table and field. It writes nothing. It returns the report so far and an error when the
// store fails or ctx ends.
func ScanNames(ctx context.Context, store NameLister, batch int) (*NameReport, error) {
	const op = "vault.ScanNames"
	batch = max(batch, 1)
	rep := &NameReport{Found: []NameCount{}, Listed: []NameRecord{}}
	for _, nt := range nameTables {
		counts := map[string]int{}
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			rows, err := store.NameColumns(ctx, nt.table, nt.columns, after, batch)
			if err != nil {
				return rep, E(op, err)
			}
			for _, r := range rows {
				fields := Fields(nt.check(r.Values))
				for _, f := range fields {
					counts[f]++
				}
				if len(fields) == 0 {
					continue
				}
				rep.Holding++
				if len(rep.Listed) < MaxNameRecordsListed {
					rep.Listed = append(rep.Listed, NameRecord{Table: nt.table, ID: r.ID, MerchantID: r.MerchantID, Field: fields[0]})
				}
			}
			rep.Records += len(rows)
			if len(rows) < batch {
				break
			}
			after = rows[len(rows)-1].ID
		}
		fields := nt.fields
		if fields == nil {
			fields = nt.columns
		}
		for _, f := range fields {
			if counts[f] > 0 {
				rep.Found = append(rep.Found, NameCount{Table: nt.table, Field: f, Records: counts[f]})
			}
		}
	}
	return rep, nil
}
