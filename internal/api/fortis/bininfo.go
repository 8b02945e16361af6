package fortis

import (
	"strings"

	"github.com/payvault/payvault/internal/country"
)

// binRow is one row of §4's BIN table: product / indicator / product_id / fund source /
// class, with the prepaid indicator and the Discover issuing network where the row gives them.
type binRow struct {
	product, indicator, productID, fundSource, class, prepaid string
	network                                                   any
}

// binRows is "The product's BIN table — Decision" of §4 of the Fortis spec
// (/work/shared/spec/fortis-accountvaults.md), keyed on the first six digits. Keep it a copy
// of the spec: a BIN listed there takes its row, an unlisted one its brand's row.
var binRows = map[string]binRow{
	// Visa.
	"411111": {"V", "X", "A", "C", "C", "", nil},
	"401288": {"V", "X", "A", "C", "C", "", nil},
	"491606": {"V", "X", "A", "C", "C", "", nil},
	"400556": {"V", "X", "K", "C", "T", "", nil},
	"448527": {"V", "X", "S", "C", "P", "", nil},
	"448542": {"V", "X", "S1", "C", "P", "", nil},
	"455677": {"V", "S", "F", "D", "C", "", nil},
	// MasterCard.
	"545454": {"M", "X", "MCS", "C", "C", "", nil},
	"528807": {"M", "X", "MCS", "C", "C", "", nil},
	"540522": {"M", "X", "MCO", "C", "T", "", nil},
	"556680": {"M", "X", "MCO", "C", "T", "", nil},
	"547067": {"M", "X", "MCP", "C", "P", "", nil},
	"556098": {"M", "X", "MCF", "C", "P", "", nil},
	"556506": {"M", "X", "MGF", "C", "T", "", nil},
	"556802": {"M", "X", "MGF", "C", "T", "", nil},
	"543581": {"M", "S", "MBP", "P", "B", "P", nil},
	// Other brands.
	"601100": {"D", "X", "001", "C", "C", "", "00"},
	"371449": {"A", "X", "", "", "", "", nil},
}

// brandRows are the brand rules of §4 ("Unlisted BINs take their brand's row"): what a card
// whose BIN binRows does not list shows when the BIN range data says nothing more.
var brandRows = map[string]binRow{
	"visa":   binRows["411111"],
	"mc":     binRows["545454"],
	"disc":   binRows["601100"],
	"amex":   binRows["371449"],
	"diners": {"D", "X", "", "C", "C", "", "01"},
	"jcb":    {"D", "X", "", "C", "C", "", "02"},
}

// binInfo is the 14-key bininfo of §4 for a card. §0.1 #5, which supersedes §4, puts the
// embedded BIN range data first where a range matches: it gives the issuer, the country
// (alpha-3) and debit, credit or prepaid (account_fund_source, prepaid_indicator, and
// detail_card_indicator S for debit and prepaid). "Brand rules give the rest, and serve when
// no range matches": those are §4's BIN table, the row of the first six digits where the
// table lists them (binRows) and the brand's row otherwise (brandRows).
func (a *API) binInfo(bin, brand string) object {
	accountType := cardAccountType(bin, brand)
	row, ok := binRows[bin[:min(len(bin), 6)]]
	if !ok {
		row, ok = brandRows[accountType]
	}
	if !ok {
		row = binRow{product: "N"}
	}
	issuer, countryCode, prepaid := "", "USA", row.prepaid
	if accountType == "amex" {
		countryCode = ""
	}
	if info, ok := a.svc.LookupBIN(bin); ok {
		issuer = strings.TrimSpace(info.Bank)
		if len([]rune(issuer)) > 60 {
			issuer = string([]rune(issuer)[:60])
		}
		// §0.1 #5 applies to every brand: an Amex range gives its country and fund source
		// too; §4's blank Amex country serves only when no range matches.
		countryCode, _ = country.Alpha3(info.Country)
		switch {
		case info.Prepaid:
			prepaid = "P"
			row.fundSource, row.indicator = "P", "S"
		case info.Type == "debit":
			prepaid = ""
			row.fundSource, row.indicator = "D", "S"
		case info.Type == "credit":
			prepaid = ""
			row.fundSource = "C"
		}
	}
	return object{
		{"issuer_bank_name", issuer},
		{"country_code", countryCode},
		{"detail_card_product", row.product},
		{"detail_card_indicator", row.indicator},
		{"fsa_indicator", ""},
		{"prepaid_indicator", prepaid},
		{"product_id", row.productID},
		{"regulator_indicator", "N"},
		{"visa_product_sub_type", ""},
		{"visa_large_ticket_indicator", ""},
		{"account_fund_source", row.fundSource},
		{"card_class", row.class},
		{"token_ind", ""},
		{"issuing_network", row.network},
	}
}
