package fortis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/payvault/payvault/internal/vault"
)

// names returns the field of each record of a list.
func names(list any, field string) []any {
	out := []any{}
	for _, v := range list.([]any) {
		out = append(out, v.(map[string]any)[field])
	}
	return out
}

// ids returns the id of each record of a list.
func ids(list any) []any { return names(list, "id") }

// TestCompanions covers the read-only locations, users and product transactions (§3.1–§3.3)
// and their expands. They are provisioned through the core, as the admin API does.
func TestCompanions(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	loc := s.creds.Fortis.LocationID
	second := s.mustLocation(t, "Second")
	child, err := s.svc.CreateLocation(ctx, s.creds.MerchantID, vault.NewLocation{Name: "Child", ParentID: loc, APIID: "child-1"})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s.svc.CreateProductTransaction(ctx, s.creds.MerchantID, vault.NewProductTransaction{LocationID: loc, PaymentMethod: "cc", Title: "Second cc", RunAVSOnCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	wide, wideCreds := s.mustUser(t, vault.NewUser{Username: "wide", FirstName: "Wi", LastName: "De", PrimaryLocationID: loc,
		LocationIDs: []string{second.Location.ID, child.Location.ID}, TZ: "America/Chicago"})
	_, _ = s.mustUser(t, vault.NewUser{Username: "secondonly", PrimaryLocationID: second.Location.ID})

	t.Run("ok/location", func(t *testing.T) {
		got := must(t, s.get(t, "/v2/locations/"+loc+"?expand=product_transactions,parent,terminal"), 200).record(t, "location")
		diff(t, []any{s.creds.Fortis.LocationAPIKey, s.creds.Fortis.TicketHashKey, nil, nil}, []any{got["location_api_key"], got["ticket_hash_key"], got["parent"], got["terminal"]})
		diff(t, 3, len(got["product_transactions"].([]any)))
	})
	t.Run("ok/location-parent-and-filters", func(t *testing.T) {
		r := must(t, s.do(t, call{Method: "GET", Path: "/v2/locations?location_api_id=child-1&expand=parent", As: &wideCreds}), 200)
		items := r.json(t)["locations"].([]any)
		diff(t, 1, len(items))
		diff(t, loc, items[0].(map[string]any)["parent"].(map[string]any)["id"])
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/locations?sort=name&name=ECO", As: &wideCreds}), 200)
		diff(t, "Second", r.json(t)["locations"].([]any)[0].(map[string]any)["name"])
		diff(t, 3, len(must(t, s.do(t, call{Method: "GET", Path: "/v2/locations", As: &wideCreds}), 200).json(t)["locations"].([]any)))
		listed := must(t, s.get(t, "/v2/locations"), 200).json(t)["locations"].([]any)
		diff(t, 1, len(listed))
		// A listed location shows its keys as its GET does (§3.2).
		diff(t, []any{s.creds.Fortis.LocationAPIKey, s.creds.Fortis.TicketHashKey},
			[]any{listed[0].(map[string]any)["location_api_key"], listed[0].(map[string]any)["ticket_hash_key"]})
		// An accessible location_id narrows the list to its locations (§1.6).
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/locations?location_id=" + second.Location.ID, As: &wideCreds}), 200)
		diff(t, []any{second.Location.ID}, ids(r.json(t)["locations"]))
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/locations?location_id=" + strings.ToUpper(second.Location.ID) + "," + loc + "&sort=name", As: &wideCreds}), 200)
		diff(t, []any{"Fortis test", "Second"}, names(r.json(t)["locations"], "name"))
	})
	t.Run("ok/users", func(t *testing.T) {
		got := must(t, s.get(t, "/v2/users/"+wide.ID+"?expand=primary_location,locations"), 200).record(t, "user")
		diff(t, map[string]any{"username": "wide", "tz": "America/Chicago", "user_api_key": nil, "user_hash_key": nil, "status": float64(1), "user_type_id": float64(200)},
			pick(got, "username", "tz", "user_api_key", "user_hash_key", "status", "user_type_id"))
		diff(t, loc, got["primary_location"].(map[string]any)["id"])
		diff(t, 1, len(got["locations"].([]any))) // only the locations the caller reaches are embedded
		// The merchant's user reaches only the first location: it sees itself and "wide".
		users := must(t, s.get(t, "/v2/users?sort=username"), 200).json(t)["users"].([]any)
		diff(t, 2, len(users))
		must(t, s.get(t, "/v2/users/"+users[0].(map[string]any)["id"].(string)), 200)
		// "wide" also shares the second location, so it sees "secondonly" too.
		r := must(t, s.do(t, call{Method: "GET", Path: "/v2/users?page_size=2", As: &wideCreds}), 200)
		diff(t, 2, len(r.json(t)["users"].([]any)))
		diff(t, float64(3), meta(t, r)["pagination"].(map[string]any)["totalCount"])
		// With location_id, the users of those locations (§1.6).
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/users?location_id=" + second.Location.ID + "&sort=username", As: &wideCreds}), 200)
		diff(t, []any{"secondonly", "wide"}, names(r.json(t)["users"], "username"))
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/users?location_id=" + child.Location.ID, As: &wideCreds}), 200)
		diff(t, []any{"wide"}, names(r.json(t)["users"], "username"))
	})
	t.Run("ok/product-transactions", func(t *testing.T) {
		got := must(t, s.get(t, "/v2/producttransactions/"+pt.ID+"?expand=location"), 200).record(t, "producttransaction")
		diff(t, map[string]any{"payment_method": "cc", "title": "Second cc", "run_avs_on_accountvault_create": true, "industry_type": "ecommerce", "active": float64(1)},
			pick(got, "payment_method", "title", "run_avs_on_accountvault_create", "industry_type", "active"))
		diff(t, loc, got["location"].(map[string]any)["id"])
		list := must(t, s.get(t, "/v2/producttransactions?payment_method=cc"), 200).json(t)["producttransactions"].([]any)
		diff(t, 2, len(list))
		must(t, s.get(t, "/v2/producttransactions/"+second.Location.DefaultCC), 404)
		r := must(t, s.get(t, "/v2/producttransactions?location_id="+second.Location.ID), 422)
		diff(t, `{"errors":{"location_id":["location_id provided is not valid"]}}`, string(r.Body))
	})
	t.Run("fail/writes", func(t *testing.T) {
		must(t, s.do(t, call{Method: "PUT", Path: "/v2/users/" + wide.ID, Body: `{}`}), 405)
		must(t, s.do(t, call{Method: "DELETE", Path: "/v2/producttransactions/" + pt.ID}), 405)
		must(t, s.do(t, call{Method: "POST", Path: "/v2/producttransactions", Body: `{}`}), 405)
	})
}

// TestEmbeddedUserVisibility checks that created_user embeds only a user the caller may read
// (§3.1: the caller and users who share an accessible location; any other user is 404): a
// user who left the contact's location is null in the expand, as its GET is 404.
func TestEmbeddedUserVisibility(t *testing.T) {
	s := mustServer(t)
	ctx := context.Background()
	loc := s.creds.Fortis.LocationID
	second := s.mustLocation(t, "Second")
	mover, moverCreds := s.mustUser(t, vault.NewUser{Username: "mover", PrimaryLocationID: loc, LocationIDs: []string{second.Location.ID}})
	_, stayCreds := s.mustUser(t, vault.NewUser{Username: "stay", PrimaryLocationID: second.Location.ID})
	body := `{"contact":{"location_id":"` + second.Location.ID + `","last_name":"Moved"}}`
	c := must(t, s.do(t, call{Method: "POST", Path: "/v2/contacts", Body: body, As: &moverCreds}), 201).record(t, "contact")["id"].(string)
	v := must(t, s.do(t, call{Method: "POST", Path: "/v2/accountvaults", As: &moverCreds, Body: `{"accountvault":{"location_id":"` + second.Location.ID +
		`","payment_method":"cc","account_number":"4111111111111111","exp_date":"1228"}}`}), 201).record(t, "accountvault")["id"].(string)

	embedded := func(t *testing.T) (contact, vaultUser, listed any) {
		t.Helper()
		contact = must(t, s.do(t, call{Method: "GET", Path: "/v2/contacts/" + c + "?expand=created_user", As: &stayCreds}), 200).record(t, "contact")["created_user"]
		vaultUser = must(t, s.do(t, call{Method: "GET", Path: "/v2/accountvaults/" + v + "?expand=created_user", As: &stayCreds}), 200).record(t, "accountvault")["created_user"]
		list := must(t, s.do(t, call{Method: "GET", Path: "/v2/contacts?expand=created_user", As: &stayCreds}), 200).json(t)["contacts"].([]any)
		return contact, vaultUser, list[0].(map[string]any)["created_user"]
	}
	t.Run("ok/shares-the-location", func(t *testing.T) {
		must(t, s.do(t, call{Method: "GET", Path: "/v2/users/" + mover.ID, As: &stayCreds}), 200)
		a, b, l := embedded(t)
		diff(t, []any{mover.ID, mover.ID, mover.ID}, []any{a.(map[string]any)["id"], b.(map[string]any)["id"], l.(map[string]any)["id"]})
	})
	t.Run("ok/left-the-location", func(t *testing.T) {
		only := []string{loc}
		if _, err := s.svc.UpdateUser(ctx, s.creds.MerchantID, mover.ID, vault.UserUpdate{LocationIDs: &only}); err != nil {
			t.Fatal(err)
		}
		must(t, s.do(t, call{Method: "GET", Path: "/v2/users/" + mover.ID, As: &stayCreds}), 404)
		a, b, l := embedded(t)
		diff(t, []any{nil, nil, nil}, []any{a, b, l})
	})
}
