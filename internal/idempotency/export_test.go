package idempotency

// Fingerprint is fingerprint, for the tests that write a record as an earlier version did.
var Fingerprint = fingerprint
