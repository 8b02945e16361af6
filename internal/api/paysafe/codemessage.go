package paysafe

// CodeMessage returns the exact message of a Paysafe error code (§1.8), such as a card
// payment's decline code, and false when the code is not in the table. The hosted demo
// checkout shows it for a declined authorization.
func CodeMessage(code string) (string, bool) {
	c, ok := codeTable[code]
	return c.message, ok
}
