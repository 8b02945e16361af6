package fortis

import (
	"time"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/payments"
)

// api is the name the payments core records for this API's transactions; the sandbox picks
// the Fortis trigger table by it.
const api = "fortis"

// sandboxDeclines are the amount triggers of §3.7 step 1, in dollars: each declines a sale or
// an authonly with its reason code and verbiage.
var sandboxDeclines = []struct{ amount, code, verbiage string }{
	{"5.00", "1500", "DENY"}, {"5.10", "1510", "CALL"}, {"5.20", "1520", "PKUP"}, {"5.30", "1530", "RETRY"},
	{"5.40", "1540", "SETUP"},
	{"6.01", "1601", "GENERICFAIL"}, {"6.02", "1602", "CALL"}, {"6.03", "1603", "NOREPLY"},
	{"6.04", "1604", "PICKUP_NOFRAUD"}, {"6.05", "1605", "PICKUP_FRAUD"}, {"6.06", "1606", "PICKUP_LOST"},
	{"6.07", "1607", "PICKUP_STOLEN"}, {"6.08", "1608", "ACCTERROR"}, {"6.09", "1609", "ALREADY_REVERSED"},
	{"6.10", "1610", "BAD_PIN"}, {"6.11", "1611", "CASHBACK_EXCEEDED"}, {"6.12", "1612", "CASHBACK_NOAVAIL"},
	{"6.13", "1613", "CID_ERROR"}, {"6.14", "1614", "DATE_ERROR"}, {"6.15", "1615", "DO NOT HONOR"},
	{"6.16", "1616", "INSUFFICIENT_FUNDS"}, {"6.17", "1617", "EXCEED_WITHDRAWAL_LIMIT"},
	{"6.18", "1618", "INVALID_SERVICE_CODE"}, {"6.19", "1619", "EXCEED_ACTIVITY_LIMIT"}, {"6.20", "1620", "VIOLATION"},
	{"6.21", "1621", "ENCRYPTION_ERROR"}, {"6.22", "1622", "CARD_EXPIRED"}, {"6.23", "1623", "REENTER"},
	{"6.24", "1624", "SECURITY_VIOLATION"}, {"6.25", "1625", "NOT_PERMITTED_CARD"}, {"6.26", "1626", "NOT_PERMITTED_TRAN"},
	{"6.27", "1627", "SYSTEM_ERROR"}, {"6.28", "1628", "BAD_MERCH_ID"}, {"6.29", "1629", "DUPLICATE_BATCH"},
	{"6.30", "1630", "REJECTED_BATCH"}, {"6.31", "1631", "ACCOUNT_CLOSED"},
}

// The reason codes and verbiage the table and the representation share.
const (
	reasonApproved   = "1000"
	reasonDeny       = "1500"
	reasonAVSDenied  = "1655"
	reasonCVVDenied  = "1656"
	reasonSystemFail = "1627" // reasonSystemFail stands for a processor that gave no answer.
)

// SandboxTriggers returns the Fortis trigger table of the simulated processor (§3.7, after
// PayaConnect TestData.md), amounts converted from dollars to cents. The payments core's
// Sandbox evaluates it like every other vendor's table:
//
//  1. a refund is always approved (1000 APPROVED) and an ach debit always pending (1000
//     PENDING), with no AVS or CVV result;
//  2. amount triggers (sale and authonly only): the declines above; 8.00–8.09 wait that many
//     seconds and go on; 8.10–8.99 decline with 1500 DENY; anything else (2.01) goes on;
//  3. AVS: the denial data (street 2831 NW 41st St STE J, or a zip starting 32615) declines
//     with 1655; otherwise street 5800 NW 39th AVE and a zip starting 32606 decide the result;
//  4. CVV per brand (Amex has its own four-digit values); with the service's auto_decline_cvv
//     a P, S, U or X result declines with 1656;
//  5. approval: 1000 APPROVED with a six-digit auth code, or 1000 APPROVAL and no code for an
//     avsonly.
func SandboxTriggers() *payments.Triggers {
	saleAuth := []payments.Type{payments.TypeSale, payments.TypeAuth}
	checked := []payments.Type{payments.TypeSale, payments.TypeAuth, payments.TypeAVSOnly}
	var amounts []payments.AmountTrigger
	for _, d := range sandboxDeclines {
		amounts = append(amounts, payments.AmountTrigger{Types: saleAuth, Min: mustCents(d.amount),
			Decision: payments.Declined, Code: d.code, Message: d.verbiage})
	}
	amounts = append(amounts,
		payments.AmountTrigger{Types: saleAuth, Min: mustCents("8.00"), Max: mustCents("8.09"), DelayStep: time.Second},
		payments.AmountTrigger{Types: saleAuth, Min: mustCents("8.10"), Max: mustCents("8.99"),
			Decision: payments.Declined, Code: reasonDeny, Message: "DENY"},
	)
	const street, zip = "5800 NW 39th AVE", "32606"
	amex := []string{string(card.Amex)}
	cvv := func(brands, not []string, v string, r payments.CVVResult) payments.CVVRule {
		return payments.CVVRule{Brands: brands, NotBrands: not, Value: v, Result: r}
	}
	return &payments.Triggers{
		Fixed: map[payments.Type]payments.Outcome{
			payments.TypeRefund: {Decision: payments.Approved, Code: reasonApproved, Message: "APPROVED"},
			payments.TypeDebit:  {Decision: payments.Approved, Code: reasonApproved, Message: "PENDING", Pending: true},
		},
		Amounts: amounts,
		AVS: payments.AVSTable{
			Types: checked,
			Rules: []payments.AVSRule{
				{Street: payments.Matcher{Equal: "2831 NW 41st St STE J"}, Result: payments.AVSNoMatch, DeclineCode: reasonAVSDenied, Message: "DECLINE"},
				{Zip: payments.Matcher{Prefix: "32615"}, Result: payments.AVSNoMatch, DeclineCode: reasonAVSDenied, Message: "DECLINE"},
				{Street: payments.Matcher{Equal: street}, Zip: payments.Matcher{Prefix: zip}, Result: payments.AVSMatch},
				{Street: payments.Matcher{Equal: street}, Result: payments.AVSAddressOnly},
				{Zip: payments.Matcher{Prefix: zip}, Result: payments.AVSZipOnly},
			},
			Default: payments.AVSNoMatch,
		},
		CVV: payments.CVVTable{
			Types: checked,
			Rules: []payments.CVVRule{
				cvv(amex, nil, "1234", payments.CVVMatch), cvv(amex, nil, "9999", payments.CVVNoMatch),
				cvv(amex, nil, "9998", payments.CVVNotProcessed), cvv(amex, nil, "9997", payments.CVVShouldBePresent),
				cvv(amex, nil, "9996", payments.CVVIssuerUnable), cvv(amex, nil, "9995", payments.CVVUnknown),
				cvv(nil, amex, "999", payments.CVVMatch), cvv(nil, amex, "123", payments.CVVNoMatch),
				cvv(nil, amex, "124", payments.CVVNotProcessed), cvv(nil, amex, "125", payments.CVVShouldBePresent),
				cvv(nil, amex, "126", payments.CVVIssuerUnable), cvv(nil, amex, "127", payments.CVVUnknown),
			},
			Default:     payments.CVVNoMatch,
			Absent:      payments.CVVNotGiven,
			DeclineOn:   []payments.CVVResult{payments.CVVNotProcessed, payments.CVVShouldBePresent, payments.CVVIssuerUnable, payments.CVVUnknown},
			DeclineCode: reasonCVVDenied,
			Message:     "DECLINE",
		},
		Approval: payments.Approval{Code: reasonApproved, Message: "APPROVED"},
		Approvals: map[payments.Type]payments.Approval{
			payments.TypeAVSOnly: {Code: reasonApproved, Message: "APPROVAL", NoAuthCode: true},
		},
	}
}

// mustCents converts a table's dollar amount.
func mustCents(dollars string) int64 {
	n, ok := parseCents(dollars)
	if !ok {
		panic("fortis: bad sandbox amount " + dollars)
	}
	return n
}

// avsFields are avs and avs_enhanced for a neutral AVS result (§3.7 step 2).
func avsFields(r payments.AVSResult) (avs, enhanced any) {
	switch r {
	case payments.AVSMatch:
		return "GOOD", "Y"
	case payments.AVSAddressOnly:
		return "ZIP", "A"
	case payments.AVSZipOnly:
		return "STREET", "Z"
	case payments.AVSNoMatch, payments.AVSUnknown, payments.AVSNotProcessed:
		return "BAD", "N"
	}
	return nil, nil
}

// cvvResponse is the cvv_response of a neutral CVV result (§3.7 step 3).
func cvvResponse(r payments.CVVResult) any {
	switch r {
	case payments.CVVMatch:
		return "M"
	case payments.CVVNoMatch, payments.CVVNotGiven:
		return "N"
	case payments.CVVNotProcessed:
		return "P"
	case payments.CVVShouldBePresent:
		return "S"
	case payments.CVVIssuerUnable:
		return "U"
	case payments.CVVUnknown:
		return "X"
	}
	return nil
}
