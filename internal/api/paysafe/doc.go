// Package paysafe serves the Paysafe Customer Vault API v1 (/customervault/...) wire-compatibly
// over the vault core, so that the official Paysafe SDKs work against payvault unmodified. The
// Card Payments API (/cardpayments/...) lives in the same package, in the cardpayments files,
// and shares its wire layer:
//
//   - errors.go: the Paysafe code table and writeError, the one place where core errors
//     (Kind, Field, reason) become a status, a code and fieldErrors;
//   - decode.go: the loose JSON reader (coercions, null as absent, dotted field paths, 5023
//     positions that never echo input);
//   - auth.go: HTTP Basic credentials, the single-use-token key's limits and the refusal of
//     live credentials over plain HTTP;
//   - respond.go: the headers every answer carries, 201 with Location, empty DELETE answers.
//
// Vendor format rules (lengths, enums and their messages) are checked here; business rules
// (tenancy, duplicates, tokens, the ABA rule by merchant mode, mandate lifecycles) are the
// core's. README.md states the supported subset and every deliberate difference from Paysafe.
package paysafe
