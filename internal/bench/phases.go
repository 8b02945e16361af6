package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// minCards is how many cards the lookup and auth phases need; when the tokenize phase did not
// run and nothing was seeded, setup creates them.
const minCards = 1000

// prepare creates what phase name needs and returns its spec.
func (r *runner) prepare(ctx context.Context, name string) (spec, error) {
	switch name {
	case PhaseNoop:
		return spec{want: http.StatusOK, next: func(w *worker) {
			w.req = request{method: "GET", path: "/bench/noop"}
		}}, nil
	case PhaseTokenize:
		if err := r.ensureProfiles(ctx); err != nil {
			return spec{}, err
		}
		return r.tokenizeSpec(true), nil
	case PhaseLookup:
		if err := r.ensureCards(ctx); err != nil {
			return spec{}, err
		}
		return spec{want: http.StatusOK, next: func(w *worker) {
			c := r.cards[w.rng.IntN(len(r.cards))]
			w.req = request{method: "GET", path: "/customervault/v1/profiles/" + c.Profile + "/cards/" + c.ID, headers: r.paysafe}
		}}, nil
	case PhaseToken:
		return spec{want: http.StatusOK, next: func(w *worker) {
			w.req = request{method: "POST", path: "/customervault/v1/singleusetokens", headers: r.sutKey,
				body: []byte(`{"card":{"cardNum":"` + r.pan() + `","cardExpiry":{"month":12,"year":2040},"cvv":"123","holderName":"BENCH"}}`)}
		}}, nil
	case PhaseAuth:
		if err := r.ensureCards(ctx); err != nil {
			return spec{}, err
		}
		path := "/cardpayments/v1/accounts/" + r.creds.Paysafe.AccountNumber + "/auths"
		return spec{want: http.StatusOK, next: func(w *worker) {
			c := r.cards[w.rng.IntN(len(r.cards))]
			w.req = request{method: "POST", path: path, headers: r.paysafe,
				body: []byte(`{"merchantRefNum":"bench-` + r.runID + `-` + strconv.FormatInt(r.seq.Add(1), 10) +
					`","amount":1500,"settleWithAuth":true,"card":{"paymentToken":"` + c.Token + `"}}`)}
		}}, nil
	case PhaseFortisCreate:
		loc := r.creds.Fortis.LocationID
		return spec{want: http.StatusCreated, next: func(w *worker) {
			w.req = request{method: "POST", path: "/v2/accountvaults", headers: r.fortis,
				body: []byte(`{"accountvault":{"location_id":"` + loc + `","payment_method":"cc","account_number":"` + r.pan() +
					`","exp_date":"1240","account_holder_name":"BENCH","title":"bench"}}`)}
		}}, nil
	case PhaseFortisList:
		return spec{want: http.StatusOK, next: func(w *worker) {
			w.req = request{method: "GET", path: "/v2/accountvaults?page_size=20", headers: r.fortis}
		}}, nil
	}
	panic("bench: unknown phase " + name)
}

// tokenizeSpec creates a card with a fresh PAN on one of the profiles; keep records the new
// cards for the lookup and auth phases.
func (r *runner) tokenizeSpec(keep bool) spec {
	per := max(1, maxSample/len(r.conns))
	return spec{want: http.StatusCreated,
		next: func(w *worker) {
			p := r.profiles[w.rng.IntN(len(r.profiles))]
			w.ids = append(w.ids[:0], p)
			w.req = request{method: "POST", path: "/customervault/v1/profiles/" + p + "/cards", headers: r.paysafe,
				body: []byte(`{"cardNum":"` + r.pan() + `","cardExpiry":{"month":12,"year":2040},"holderName":"BENCH"}`)}
		},
		after: func(w *worker, body []byte) {
			if !keep || len(w.cards) >= per {
				return
			}
			var c struct {
				ID           string `json:"id"`
				PaymentToken string `json:"paymentToken"`
			}
			if json.Unmarshal(body, &c) == nil && c.ID != "" {
				w.cards = append(w.cards, cardRef{Profile: w.ids[0], ID: c.ID, Token: c.PaymentToken})
			}
		}}
}

// ensureProfiles creates the profiles the tokenize phase spreads its cards over.
func (r *runner) ensureProfiles(ctx context.Context) error {
	if len(r.profiles) > 0 {
		return nil
	}
	ws, err := r.setup(ctx, "profiles", r.cfg.Profiles, spec{want: http.StatusCreated,
		next: func(w *worker) {
			w.req = request{method: "POST", path: "/customervault/v1/profiles", headers: r.paysafe,
				body: []byte(`{"merchantCustomerId":"bench-` + r.runID + `-` + strconv.FormatInt(r.seq.Add(1), 10) + `","locale":"en_US","firstName":"Bench"}`)}
		},
		after: func(w *worker, body []byte) {
			if id := jsonString(body, "id"); id != "" {
				w.ids = append(w.ids, id)
			}
		}})
	for _, w := range ws {
		r.profiles = append(r.profiles, w.ids...)
		w.ids = nil
	}
	return err
}

// ensureCards makes sure there are cards to look up and pay with.
func (r *runner) ensureCards(ctx context.Context) error {
	if len(r.cards) > 0 {
		return nil
	}
	if err := r.ensureProfiles(ctx); err != nil {
		return err
	}
	ws, err := r.setup(ctx, "cards", minCards, r.tokenizeSpec(true))
	r.keepCards(ws)
	return err
}

// jsonString returns the first string value of key in a JSON body, without decoding it all:
// enough for an id or an error code.
func jsonString(body []byte, key string) string {
	pat := []byte(`"` + key + `":"`)
	i := bytes.Index(body, pat)
	if i < 0 {
		return ""
	}
	rest := body[i+len(pat):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
