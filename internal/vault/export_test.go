package vault

// CountSecretChecks makes s add one to *n for every secret it compares with a stored hash
// (or the dummy hash an unknown credential is compared with).
func CountSecretChecks(s *Service, n *int) {
	verify := s.verifySecret
	s.verifySecret = func(hash []byte, secret string) bool {
		*n++
		return verify(hash, secret)
	}
}
