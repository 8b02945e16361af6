package paysafe

import (
	"net/http"
	"strings"

	"github.com/payvault/payvault/internal/card"
	"github.com/payvault/payvault/internal/vault"
)

// cardRoutes registers the card routes (§2.4).
func (a *API) cardRoutes() {
	a.handle(http.MethodPost, "/customervault/v1/profiles/{p}/cards", serverOnly, a.handleCardCreate)
	a.handle(http.MethodGet, "/customervault/v1/profiles/{p}/cards/{id}", serverOnly, a.handleCardGet)
	a.handle(http.MethodPut, "/customervault/v1/profiles/{p}/cards/{id}", serverOnly, a.handleCardUpdate)
	a.handle(http.MethodDelete, "/customervault/v1/profiles/{p}/cards/{id}", serverOnly, a.handleCardDelete)
}

// cardMode says where a card object appears, which decides the fields it may carry.
type cardMode uint8

const (
	cardInProfile cardMode = iota // cardInProfile is a profile's nested card: cvv and billingAddress.
	cardCreate                    // cardCreate is a card create: billingAddressId and defaultCardIndicator.
	cardToken                     // cardToken is a single-use token's card: cvv and billingAddress, no token, nickName or merchantRefNum.
)

// cardInput is a card object read from a request.
type cardInput struct {
	pan              string
	expiry           card.Expiry
	token            string // token is the singleUseToken, when the card comes from one.
	cvv              string // cvv is validated; only a single-use token keeps it, sealed.
	holderName       string
	nickName         string
	merchantRefNum   string
	billingAddressID string
	billing          *vault.Address
	def              *bool
	brandField       string // brandField is the path of a valid number no Paysafe brand accepts.
}

// readCard reads a card object. With a singleUseToken (not on the token endpoint) cardNum and
// cardExpiry are ignored, and so are a profile's nested cvv and billingAddress.
func (a *API) readCard(o obj, mode cardMode) cardInput {
	var c cardInput
	if mode != cardToken {
		if tok, st := o.str("singleUseToken"); st == present && strings.TrimSpace(tok) != "" {
			c.token = tok
		}
	}
	if c.token == "" {
		pan, ok := o.readPAN("cardNum")
		c.expiry = o.readExpiry("cardExpiry")
		if ok && a.cardType(pan) == "" {
			c.brandField = o.field("cardNum")
		}
		c.pan = pan
	}
	c.holderName = o.optString("holderName", 160)
	if mode != cardToken { // a token keeps neither (§2.11): there they are unknown fields, ignored
		c.nickName = o.optString("nickName", 50)
		c.merchantRefNum = o.optString("merchantRefNum", 255)
	}
	switch {
	case mode == cardInProfile && c.token != "":
		// The token's card, CVV and billing address are stored (§2.2); a cvv or
		// billingAddress beside it is an unused member, ignored (§1.3).
	case mode == cardInProfile, mode == cardToken:
		c.cvv = o.readCVV("cvv")
		if bo, st := o.object("billingAddress"); st == present {
			var ad vault.Address
			bo.readAddress(&ad)
			if mode == cardInProfile {
				// It becomes the new profile's first address, so the §2.3 flag needs no
				// other address cleared. A token's address may join a profile that has a
				// default already, so it never carries the flag.
				if def := bo.boolean("defaultShippingAddressIndicator"); def != nil {
					ad.DefaultShipping = *def
				}
			}
			c.billing = &ad
		}
	case mode == cardCreate:
		c.billingAddressID, _ = o.str("billingAddressId")
		c.def = o.boolean("defaultCardIndicator")
	}
	return c
}

// brandError is 7508 for a number no row of the Paysafe brand table accepts.
func (c cardInput) brandError() error {
	if c.brandField == "" {
		return nil
	}
	return &apiError{Code: "7508", FieldErrors: []fieldError{{Field: c.brandField, Error: msgInvalidCard}}}
}

// instrument returns the core instrument and source of a card to store, adjusting opt.
func (c cardInput) instrument(opt *vault.CreateOptions) (*vault.Instrument, vault.Source) {
	in := &vault.Instrument{Kind: vault.KindCard, HolderName: c.holderName, NickName: c.nickName,
		MerchantRefNum: c.merchantRefNum, BillingAddressID: c.billingAddressID}
	if c.token != "" {
		opt.TokenBillingAsAddress = true // used only when no billingAddressId is given
		return in, vault.Source{Token: c.token, TokenKinds: []string{vault.TokenCard}}
	}
	opt.NewBillingAddress = c.billing
	return in, vault.Source{Number: c.pan, Expiry: c.expiry}
}

// handleCardCreate answers POST /customervault/v1/profiles/{p}/cards: a raw card, or one
// from a single-use token. A number already on a card of the profile is 409/7503.
func (a *API) handleCardCreate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid := r.PathValue("p")
	// An unknown profile is a 404 whatever the body holds. The create itself finds the
	// profile, so a valid request reads it once; the others look it up before they answer.
	profileErr := func(err error) error {
		if perr := a.vault.CheckProfile(r.Context(), p, pid); perr != nil {
			return perr
		}
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return profileErr(err)
	}
	c := a.readCard(o, cardCreate)
	if err := o.errs.err(); err != nil {
		return profileErr(err)
	}
	if err := c.brandError(); err != nil {
		return profileErr(err)
	}
	opt := vault.CreateOptions{CheckDuplicate: true, Default: c.def}
	in, src := c.instrument(&opt)
	in.ProfileID = pid
	out, err := a.vault.CreateInstrument(r.Context(), p, in, src, opt)
	if err != nil {
		if ve := vault.AsError(err); ve != nil && ve.Kind == vault.Invalid && ve.Field == "profile_id" {
			return profileErr(wireCtx{kind: vault.KindCard}.wrap(err))
		}
		return wireCtx{kind: vault.KindCard}.wrap(err)
	}
	a.writeCreated(w, r, "/customervault/v1/profiles/"+pid+"/cards/"+out.ID, a.toCardJSON(out))
	return nil
}

// belongs is an update's guard: the instrument must still be of the kind and profile the
// path names.
func belongs(in *vault.Instrument, profileID, kind string) error {
	if in.ProfileID != profileID || in.Kind != kind {
		return notFound(in.ID)
	}
	return nil
}

// handleCardGet answers GET /customervault/v1/profiles/{p}/cards/{id}.
func (a *API) handleCardGet(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	in, err := a.vault.GetProfileInstrument(r.Context(), p, r.PathValue("p"), r.PathValue("id"), vault.KindCard)
	if err != nil {
		return err
	}
	writeOK(w, a.toCardJSON(in))
	return nil
}

// handleCardUpdate answers PUT /customervault/v1/profiles/{p}/cards/{id}: cardExpiry is
// required, the other mutable fields are replaced, and defaultCardIndicator changes the
// default only when given.
func (a *API) handleCardUpdate(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	pid, id := r.PathValue("p"), r.PathValue("id")
	if _, err := a.vault.GetProfileInstrument(r.Context(), p, pid, id, vault.KindCard); err != nil {
		return err
	}
	o, err := readObject(r)
	if err != nil {
		return err
	}
	exp := o.readExpiry("cardExpiry")
	holder := o.optString("holderName", 160)
	nick := o.optString("nickName", 50)
	ref := o.optString("merchantRefNum", 255)
	baid, _ := o.str("billingAddressId")
	def := o.boolean("defaultCardIndicator")
	if err := o.errs.err(); err != nil {
		return err
	}
	out, err := a.vault.UpdateInstrumentWith(r.Context(), p, id, func(in *vault.Instrument) error {
		if err := belongs(in, pid, vault.KindCard); err != nil {
			return err
		}
		in.ExpMonth, in.ExpYear = exp.Month, exp.Year
		in.HolderName, in.NickName, in.MerchantRefNum, in.BillingAddressID = holder, nick, ref, baid
		return nil
	}, vault.SecretUpdate{}, vault.UpdateOptions{Default: def})
	if err != nil {
		return wireCtx{kind: vault.KindCard}.wrap(err)
	}
	writeOK(w, a.toCardJSON(out))
	return nil
}

// handleCardDelete answers DELETE /customervault/v1/profiles/{p}/cards/{id}; when it was the
// default card, the oldest remaining card becomes the default.
func (a *API) handleCardDelete(w http.ResponseWriter, r *http.Request, p *vault.Principal) error {
	in, err := a.vault.GetProfileInstrument(r.Context(), p, r.PathValue("p"), r.PathValue("id"), vault.KindCard)
	if err != nil {
		return err
	}
	if err := a.vault.DeleteInstrument(r.Context(), p, in.ID); err != nil {
		return err
	}
	writeDeleted(w)
	return nil
}
