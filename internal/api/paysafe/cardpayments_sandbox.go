package paysafe

import (
	"time"

	"github.com/payvault/payvault/internal/payments"
)

// SandboxTriggers returns the Paysafe trigger table of the simulated processor (§2.18),
// amounts in cents. Magic amounts apply to auths only; the AVS and CVV rules to auths and
// verifications. Decline and fault codes are Paysafe error codes.
func SandboxTriggers() *payments.Triggers {
	auth := []payments.Type{payments.TypeAuth}
	decline := func(amount int64, code string) payments.AmountTrigger {
		return payments.AmountTrigger{Types: auth, Min: amount, Decision: payments.Declined, Code: code}
	}
	checked := []payments.Type{payments.TypeAuth, payments.TypeVerification}
	street := func(prefix string, r payments.AVSResult) payments.AVSRule {
		return payments.AVSRule{Street: payments.Matcher{Prefix: prefix}, Result: r}
	}
	cvv := func(v string, r payments.CVVResult) payments.CVVRule { return payments.CVVRule{Value: v, Result: r} }
	return &payments.Triggers{
		Amounts: []payments.AmountTrigger{
			decline(4, "3015"),
			decline(5, "3009"),
			{Types: auth, Min: 6, Decision: payments.Fault, Code: "1007"},
			{Types: auth, Min: 20, Decision: payments.Fault, Code: "1007"},
			decline(11, "3022"),
			decline(12, "3023"),
			decline(13, "3024"),
			decline(23, "4002"),
			decline(24, "3007"),
			decline(25, "4001"),
			decline(77, "3060"),
			{Types: auth, Min: 90, Max: 95, Delay: 5 * time.Second, DelayStep: 5 * time.Second, Decision: payments.Approved},
			{Types: auth, Min: 96, Delay: 35 * time.Second, Decision: payments.Fault, Code: "1007"},
		},
		AVS: payments.AVSTable{
			Types: checked,
			Rules: []payments.AVSRule{
				street("10", payments.AVSMatch),
				street("11", payments.AVSAddressOnly), street("16", payments.AVSAddressOnly),
				street("12", payments.AVSZipOnly), street("17", payments.AVSZipOnly),
				street("13", payments.AVSNoMatch),
				street("15", payments.AVSUnknown),
				street("18", payments.AVSNotProcessed),
			},
			Default: payments.AVSMatch,
		},
		CVV: payments.CVVTable{
			Types: checked,
			Rules: []payments.CVVRule{
				cvv("111", payments.CVVMatch),
				cvv("222", payments.CVVNotProcessed), cvv("333", payments.CVVNotProcessed), cvv("444", payments.CVVNotProcessed),
				cvv("555", payments.CVVUnknown),
				cvv("666", payments.CVVNoMatch),
			},
			Default: payments.CVVMatch,
			Absent:  payments.CVVNotGiven,
		},
	}
}

// avsResponse is the Paysafe avsResponse of a neutral AVS result.
func avsResponse(r payments.AVSResult) string {
	switch r {
	case payments.AVSMatch:
		return "MATCH"
	case payments.AVSAddressOnly:
		return "MATCH_ADDRESS_ONLY"
	case payments.AVSZipOnly:
		return "MATCH_ZIP_ONLY"
	case payments.AVSNoMatch:
		return "NO_MATCH"
	case payments.AVSUnknown:
		return "UNKNOWN"
	case payments.AVSNotProcessed:
		return "NOT_PROCESSED"
	}
	return ""
}

// cvvVerification is the Paysafe cvvVerification of a neutral CVV result.
func cvvVerification(r payments.CVVResult) string {
	switch r {
	case payments.CVVMatch:
		return "MATCH"
	case payments.CVVNoMatch:
		return "NO_MATCH"
	case payments.CVVNotProcessed, payments.CVVNotGiven:
		return "NOT_PROCESSED"
	case payments.CVVUnknown, payments.CVVShouldBePresent, payments.CVVIssuerUnable:
		return "UNKNOWN"
	}
	return ""
}
