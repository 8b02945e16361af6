// Package fortis serves the Fortis (Zeamster, Paya Connect) v2 REST API under /v2 over the
// vault core. It translates the vendor's wire format into core calls and nothing else:
//
//   - an account vault is a vault.Instrument (cc: KindCard, ach: KindACH);
//   - a contact is a vault.Profile, the same record a Paysafe profile is;
//   - a card ticket is a vault.OneTimeToken of kind vault.TokenTicket;
//   - a location, a user and a product transaction are the core's, provisioned through the
//     admin API;
//   - a transaction is a payments.Transaction, run by the vendor-neutral payments engine whose
//     sandbox evaluates this API's trigger table (SandboxTriggers) like Paysafe's.
//
// Users authenticate with developer-id plus user-id and user-api-key (headers, query
// parameters or HTTP Basic); browsers create card tickets with a location's HMAC credential
// (vault.Service.AuthenticateBrowser). Every list goes through one engine (list.go) that turns
// filters, timestamp keywords, sort keys and pages into a vault.Query. Errors are written by
// writeError in the vendor's envelopes: {"name","message","code","status"}, and
// {"errors":{field:[message]}} for a 422 with one message per field in field-table order.
//
// README.md states the supported subset and every deliberate difference from the vendor;
// openapi.yaml, served at /v2/openapi.yaml, describes every route and validates the tests.
package fortis
