package fortis

import (
	"strings"

	"github.com/payvault/payvault/internal/country"
)

// binRow is a brand's default BIN info (§4's brand rows).
type binRow struct {
	product, indicator, productID, fundSource, class string
	network                                          any
}

// brandRows are the brand rules: what a card of each brand shows when the BIN data says
// nothing more.
var brandRows = map[string]binRow{
	"visa":   {"V", "X", "A", "C", "C", nil},
	"mc":     {"M", "X", "MCS", "C", "C", nil},
	"disc":   {"D", "X", "001", "C", "C", "00"},
	"amex":   {"A", "X", "", "", "", nil},
	"diners": {"D", "X", "", "C", "C", "01"},
	"jcb":    {"D", "X", "", "C", "C", "02"},
}

// binInfo is the 14-key bininfo of §4 for a card: the embedded BIN range data gives the issuer,
// the country (alpha-3) and debit, credit or prepaid where a range matches (§0.1 #5); the
// brand rules give the rest and serve when nothing matches.
func (a *API) binInfo(bin, brand string) object {
	accountType := cardAccountType(bin, brand)
	row, ok := brandRows[accountType]
	if !ok {
		row = binRow{product: "N"}
	}
	issuer, countryCode, prepaid := "", "USA", ""
	if accountType == "amex" {
		countryCode = ""
	}
	if info, ok := a.svc.LookupBIN(bin); ok {
		issuer = strings.TrimSpace(info.Bank)
		if len([]rune(issuer)) > 60 {
			issuer = string([]rune(issuer)[:60])
		}
		if accountType != "amex" {
			countryCode, _ = country.Alpha3(info.Country)
		}
		switch {
		case info.Prepaid:
			prepaid = "P"
			if row.fundSource != "" {
				row.fundSource, row.indicator = "P", "S"
			}
		case info.Type == "debit":
			if row.fundSource != "" {
				row.fundSource, row.indicator = "D", "S"
			}
		case info.Type == "credit":
			if row.fundSource != "" {
				row.fundSource = "C"
			}
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
