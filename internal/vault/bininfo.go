package vault

import "github.com/payvault/payvault/internal/card"

// LookupBIN returns what the embedded BIN range data says about the issuer of a card whose
// number starts with bin (six to eight digits), and false when no range matches or the
// service has no BIN data.
func (s *Service) LookupBIN(bin string) (card.BINInfo, bool) {
	if s.bins == nil {
		return card.BINInfo{}, false
	}
	return s.bins.Lookup(bin)
}

// RevealIdentity opens an instrument's sealed ssn4 and driver's licence number (Fortis shows
// them to the users who may read the vault). Kinds: Internal.
func (s *Service) RevealIdentity(in *Instrument) (ssn4, dlNumber string, err error) {
	const op = "vault.RevealIdentity"
	if in.HasSSN4 {
		if ssn4, err = s.openInstrument(op, in, "ssn4", in.Sealed.SSN4); err != nil {
			return "", "", err
		}
	}
	if in.HasDLNumber {
		if dlNumber, err = s.openInstrument(op, in, "dl_number", in.Sealed.DLNumber); err != nil {
			return "", "", err
		}
	}
	return ssn4, dlNumber, nil
}
