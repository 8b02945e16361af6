package shamir

// Arithmetic in GF(2^8) with the AES reduction polynomial x^8+x^4+x^3+x+1
// (0x11b). Addition and subtraction are both XOR.
//
// Every share byte is a secret, and so is every intermediate value of
// splitting and combining. The usual fast implementation multiplies through
// log and exp tables, which indexes memory with secret bytes: the cache lines
// it touches depend on the secret, and cache-timing attacks recover table
// indexes from another process or VM on the same core. mul therefore uses
// the shift-and-xor ("Russian peasant") loop with a fixed eight rounds and
// turns every data-dependent decision into an all-zeros or all-ones mask, so
// it runs the same instructions and touches the same memory for every input.
// inv raises to the power 254 with a fixed chain of squarings and
// multiplications instead of looking the inverse up in a table, for the same
// reason; by Fermat's little theorem a^254 = a^-1 in a field of 256 elements.

// reduction is the low byte of the AES polynomial 0x11b; the x^8 term is the
// bit that falls off the top when a byte is shifted left.
const reduction = 0x1b

// mul returns a*b in GF(2^8) in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		// -(b & 1) is 0xff when the low bit of b is set and 0x00 otherwise.
		p ^= -(b & 1) & a
		// -(a >> 7) is 0xff when a has its top bit set, so a*x overflows
		// into x^8 and must be reduced.
		carry := -(a >> 7)
		a = a<<1 ^ carry&reduction
		b >>= 1
	}
	return p
}

// inv returns the multiplicative inverse of a in GF(2^8) in constant time,
// computed as a^254. It returns 0 for 0, which has no inverse; callers never
// pass 0 because x coordinates are non-zero and distinct.
func inv(a byte) byte {
	// 254 = 0b11111110, so a^254 = a^2 * a^4 * a^8 * ... * a^128.
	sq := mul(a, a) // a^2
	r := sq
	for range 6 {
		sq = mul(sq, sq) // a^4, a^8, ..., a^128
		r = mul(r, sq)
	}
	return r
}
