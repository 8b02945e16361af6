package paysafe

// CodeInfo returns the HTTP status and exact message of a Paysafe error code (§1.8), for the
// tests that check every error envelope.
func CodeInfo(code string) (status int, message string, ok bool) {
	c, ok := codeTable[code]
	return c.status, c.message, ok
}
