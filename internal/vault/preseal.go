package vault

// presealed is the crypto of a raw-number create done before its write: the record id, the
// payment token (the sealed fields are bound to both), the number's fingerprints and the
// sealed fields. A Store commits writes in groups, one fn after
// another on one committer (see Store.Write), so whatever a fn computes, every other write
// waits for: sealing and fingerprinting a number inside the fn was about a tenth of the
// committer's time per card. The fn uses these values only when the account data it resolves
// is the very data they were computed from; otherwise it computes its own.
type presealed struct {
	id       string
	token    string
	kind     string
	number   string
	ssn4, dl string
	fps      []string
	sealed   Sealed
	hasSSN4  bool
	hasDL    bool
}

// preseal computes, outside any transaction, what createInstrument needs to seal and
// fingerprint a raw number; nil when the account data comes from elsewhere (a token, another
// instrument or a transaction: it is known only inside the transaction), or sealing fails
// (the fn then reports it).
func (s *Service) preseal(p *Principal, in *Instrument, src Source) *presealed {
	if src.Number == "" {
		return nil
	}
	pre := &presealed{id: newID(), token: newInstrumentToken(in.Kind), kind: in.Kind, number: src.Number, ssn4: src.SSN4, dl: src.DLNumber}
	v := Instrument{ID: pre.id, MerchantID: p.MerchantID(), Kind: in.Kind, Token: pre.token}
	if err := s.sealInstrument(&v, src.Number, src.SSN4, src.DLNumber); err != nil {
		return nil
	}
	pre.sealed, pre.hasSSN4, pre.hasDL = v.Sealed, v.HasSSN4, v.HasDLNumber
	pre.fps = s.keys.Fingerprints(p.MerchantID(), normalizedNumber(in.Kind, src.Number))
	return pre
}

// matches reports whether pre was computed for this instrument and account data.
func (pre *presealed) matches(in *Instrument, number, ssn4, dl string) bool {
	return pre != nil && pre.id == in.ID && pre.kind == in.Kind && pre.number == number && pre.ssn4 == ssn4 && pre.dl == dl
}
