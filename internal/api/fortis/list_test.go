package fortis_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// titles lists the titles of a list answer's vaults, in order.
func titles(tb testing.TB, r *result) []string {
	tb.Helper()
	out := []string{}
	for _, v := range r.json(tb)["accountvaults"].([]any) {
		out = append(out, v.(map[string]any)["title"].(string))
	}
	return out
}

// meta returns a list answer's meta block.
func meta(tb testing.TB, r *result) map[string]any {
	tb.Helper()
	return r.json(tb)["meta"].(map[string]any)
}

// TestListPaging checks page, page_size, the meta block and its links (§1.6).
func TestListPaging(t *testing.T) {
	s := mustServer(t)
	for _, title := range []string{"v1", "v2", "v3", "v4", "v5", "v6", "v7"} {
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"`+title+`"`)
		s.clock.Add(time.Second)
	}
	const base = "https://vault.example/v2/accountvaults"

	r := must(t, s.get(t, "/v2/accountvaults/?title=v&page=2&page_size=3&sort=created_ts"), 200)
	diff(t, []string{"v4", "v5", "v6"}, titles(t, r))
	diff(t, map[string]any{
		"pagination": map[string]any{
			"links": map[string]any{
				"self":  map[string]any{"href": base + "?title=v&page_size=3&sort=created_ts&page=2"},
				"first": map[string]any{"href": base + "?title=v&page_size=3&sort=created_ts&page=1"},
				"prev":  map[string]any{"href": base + "?title=v&page_size=3&sort=created_ts&page=1"},
				"next":  map[string]any{"href": base + "?title=v&page_size=3&sort=created_ts&page=3"},
				"last":  map[string]any{"href": base + "?title=v&page_size=3&sort=created_ts&page=3"},
			},
			"totalCount": float64(7), "pageCount": float64(3), "currentPage": float64(1), "perPage": float64(3),
		},
		"sort": map[string]any{"attributes": map[string]any{"created_ts": "asc"}},
	}, meta(t, r))

	// The key order of meta is the spec's.
	r = must(t, s.get(t, "/v2/accountvaults?page_size=10"), 200)
	body := string(r.Body)
	want := `"meta":{"pagination":{"links":{"self":{"href":"` + base + `?page_size=10&page=1"}},"totalCount":7,"pageCount":1,"currentPage":0,"perPage":10},"sort":{"attributes":{"id":"desc"}}}}`
	if got := body[len(body)-len(want):]; got != want {
		t.Errorf("meta\n got %s\nwant %s", got, want)
	}
	diff(t, []string{"v7", "v6", "v5", "v4", "v3", "v2", "v1"}, titles(t, r)) // id desc is newest first

	// Encoding and order of the incoming query are kept; page= goes last.
	r = must(t, s.get(t, "/v2/accountvaults?page=3&title=v%31&expand=contact&page_size=1"), 200)
	diff(t, base+"?title=v%31&expand=contact&page_size=1&page=3", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])

	// A card number or IBAN a client put into the query as a name is masked in the links as
	// in the log; a parameter named for account data keeps its name and loses its value,
	// however short, unless the list filters on it (routing); the rest is kept as it came.
	r = must(t, s.get(t, "/v2/accountvaults?account_number=4000056655665556&cvv=737&DE89370400440532013000=x&SSN4=1234&routing=072000326&title=v"), 200)
	diff(t, base+"?account_number=redacted&cvv=redacted&DE%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A3000=x&SSN4=redacted&routing=072000326&title=v&page=1", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
	// dl_number matches nothing whatever its value: the link's list is still empty.
	r = must(t, s.get(t, "/v2/accountvaults?dl_number=D1"), 200)
	diff(t, base+"?dl_number=redacted&page=1", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
	// A filter's list or range is read item by item: timestamps joined by | and BINs joined by
	// commas are kept, so that the links still select the same vaults; a card number among
	// the items is masked all the same.
	r = must(t, s.get(t, "/v2/accountvaults?created_ts=1795000000%7C1799999999&first_six=411111,545454&page_size=2"), 200)
	diff(t, base+"?created_ts=1795000000%7C1799999999&first_six=411111,545454&page_size=2&page=1", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
	r = must(t, s.get(t, "/v2/accountvaults?customer_id=4111111111111111,x&title=4111,1111,1111,1111"), 200)
	diff(t, base+"?customer_id=%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A1111%2Cx&title=%2A%2A%2A%2A%2C%2A%2A%2A%2A%2C%2A%2A%2A%2A%2C1111&page=1", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
	// An IBAN, whose digit runs may all be short (a Dutch one's are), is masked as a value and
	// as a filter's item.
	r = must(t, s.get(t, "/v2/accountvaults?customer_id=NL91ABNA0417164300,x&title=nl91%20abna%200417%201643%2000"), 200)
	diff(t, base+"?customer_id=NL91%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A4300%2Cx&title=NL91%2A%2A%2A%2A%2A%2A%2A%2A%2A%2A4300&page=1", meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"])
	// A card number sent as the page number is no page any list has: it is read as the first
	// page past the end of any list (maxPage), so neither the links nor currentPage repeat it.
	r = must(t, s.get(t, "/v2/accountvaults?page=4111111111111111"), 200)
	p := meta(t, r)["pagination"].(map[string]any)
	links := p["links"].(map[string]any)
	diff(t, base+"?page=2147483650", links["self"].(map[string]any)["href"])
	diff(t, base+"?page=2147483649", links["prev"].(map[string]any)["href"])
	diff(t, float64(2147483649), p["currentPage"])
	if strings.Contains(string(r.Body), "411111111") || strings.Contains(string(r.Body), "1111111110") {
		t.Errorf("the page number is repeated: %s", r.Body)
	}

	tests := []struct {
		name, query               string
		wantLen, wantPer, wantCur int
		wantTitles                []string
		wantLinks                 []string
	}{
		{"ok/defaults", "", 7, 20, 0, nil, []string{"self"}},
		{"ok/past-the-end", "?page=9&page_size=3", 0, 3, 8, []string{}, []string{"self", "first", "prev"}},
		{"ok/invalid-values-default", "?page=x&page_size=-4", 7, 20, 0, nil, []string{"self"}},
		{"ok/capped", "?page_size=9999", 7, 5000, 0, nil, []string{"self"}},
		// Integers past int64 are integers still: a page past any end, a size past the cap.
		{"ok/capped-past-int64", "?page_size=99999999999999999999", 7, 5000, 0, nil, []string{"self"}},
		{"ok/page-past-int64", "?page=99999999999999999999&page_size=3", 0, 3, 2147483649, []string{}, []string{"self", "first", "prev"}},
		// An absurd page is the first page past the end of any list, not a digit run echoed.
		{"ok/page-absurd", "?page=99999999999999&page_size=3", 0, 3, 2147483649, []string{}, []string{"self", "first", "prev"}},
		{"ok/page-max", "?page=2147483650&page_size=5000", 0, 5000, 2147483649, []string{}, []string{"self", "first", "prev"}},
		{"ok/last-page", "?page=3&page_size=3&sort=created_ts", 1, 3, 2, []string{"v7"}, []string{"self", "first", "prev"}},
		{"ok/first-page", "?page=1&page_size=3", 3, 3, 0, nil, []string{"self", "next", "last"}},
		// Pages whose offset passes 2^31 records are past the end too, with the count (§1.6).
		{"ok/far-past-the-end", "?page=500000&page_size=5000", 0, 5000, 499999, []string{}, []string{"self", "first", "prev"}},
		{"ok/past-2^31", "?page=2147483650&page_size=1", 0, 1, 2147483649, []string{}, []string{"self", "first", "prev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)
			got := titles(t, r)
			if len(got) != tt.wantLen {
				t.Errorf("%d records, want %d", len(got), tt.wantLen)
			}
			if tt.wantTitles != nil {
				diff(t, tt.wantTitles, got)
			}
			p := meta(t, r)["pagination"].(map[string]any)
			diff(t, []any{float64(tt.wantPer), float64(tt.wantCur), float64(7)}, []any{p["perPage"], p["currentPage"], p["totalCount"]})
			var links []string
			for _, k := range []string{"self", "first", "prev", "next", "last"} {
				if _, ok := p["links"].(map[string]any)[k]; ok {
					links = append(links, k)
				}
			}
			diff(t, tt.wantLinks, links)
		})
	}
	t.Run("ok/past-2^31-links", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/accountvaults?page_size=1&page=2147483650"), 200)
		diff(t, map[string]any{
			"links": map[string]any{
				"self":  map[string]any{"href": base + "?page_size=1&page=2147483650"},
				"first": map[string]any{"href": base + "?page_size=1&page=1"},
				"prev":  map[string]any{"href": base + "?page_size=1&page=2147483649"},
			},
			"totalCount": float64(7), "pageCount": float64(7), "currentPage": float64(2147483649), "perPage": float64(1),
		}, meta(t, r)["pagination"])
		s.mustContact(t, `"last_name":"Far"`)
		must(t, s.post(t, "/v2/transactions", txnBody(rawSale("1.00"))), 201)
		for _, path := range []string{"/v2/contacts", "/v2/transactions", "/v2/locations", "/v2/users", "/v2/producttransactions"} {
			p := meta(t, must(t, s.get(t, path+"?page=2147483650&page_size=1"), 200))["pagination"].(map[string]any)
			if p["totalCount"] == float64(0) {
				t.Errorf("%s past 2^31: totalCount 0", path)
			}
		}
	})
	t.Run("ok/empty", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/accountvaults?title=nothing"), 200)
		p := meta(t, r)["pagination"].(map[string]any)
		diff(t, []any{float64(0), float64(0)}, []any{p["totalCount"], p["pageCount"]})
	})
}

// TestListFilters checks exact, OR-list, contains and range filters and the sort whitelist.
func TestListFilters(t *testing.T) {
	s := mustServer(t)
	c := s.mustContact(t, `"last_name":"Filter"`)["id"].(string)
	s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"0919","title":"Visa, old","billing_zip":"32606","contact_id":"`+c+`","account_vault_api_id":"Vis1","customer_id":"Cust"`)
	s.clock.Add(time.Minute)
	s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1228","title":"Master","billing_zip":"10001","accountvault_c1":"Blue Tag"`)
	s.clock.Add(time.Minute)
	s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo","title":"Bank","account_type":"savings","billing_state":"fl"`)
	s.clock.Add(time.Minute)
	s.mustVault(t, `"payment_method":"ach","account_number":"545454123","routing":"072000326","account_holder_name":"Jo","title":"Company","is_company":true,"dl_number":"D1","dl_state":"FL"`)
	start := testNow.Unix()

	tests := []struct {
		name, query string
		want        []string
	}{
		{"ok/exact", "?payment_method=ach&sort=title", []string{"Bank", "Company"}},
		{"ok/or-list", "?account_type=mc,savings&sort=title", []string{"Bank", "Master"}},
		{"ok/account-type-case", "?account_type=VISA", []string{"Visa, old"}},
		{"ok/first-six-never-ach", "?first_six=545454", []string{"Master"}},
		{"ok/last-four", "?last_four=1111,3657&sort=title", []string{"Bank", "Visa, old"}},
		{"ok/exp-date", "?exp_date=0919,1228&sort=-title", []string{"Visa, old", "Master"}},
		{"ok/exp-date-bad-value", "?exp_date=1399", []string{}},
		{"ok/contact", "?contact_id=" + c, []string{"Visa, old"}},
		{"ok/api-id", "?account_vault_api_id=Vis1", []string{"Visa, old"}},
		{"ok/api-id-exact-case", "?account_vault_api_id=vis1", []string{}},
		{"ok/sec-code", "?ach_sec_code=ccd", []string{"Company"}},
		{"ok/routing", "?routing=072000326&sort=title", []string{"Bank", "Company"}},
		{"ok/billing-state", "?billing_state=FL", []string{"Bank"}},
		{"ok/customer", "?customer_id=Cust", []string{"Visa, old"}},
		{"ok/contains-ci", "?title=mAsT", []string{"Master"}},
		{"ok/contains-comma-is-a-character", "?title=Visa,%20old", []string{"Visa, old"}},
		{"ok/contains-zip", "?billing_zip=326", []string{"Visa, old"}},
		{"ok/contains-c1", "?accountvault_c1=blue", []string{"Master"}},
		{"ok/and", "?payment_method=cc&title=a&sort=title", []string{"Master", "Visa, old"}},
		{"ok/has-recurring-false", "?has_recurring=false&sort=title", []string{"Bank", "Company", "Master", "Visa, old"}},
		{"ok/has-recurring-true", "?has_recurring=1", []string{}},
		{"ok/has-recurring-false-any-case", "?has_recurring=FALSE&sort=title", []string{"Bank", "Company", "Master", "Visa, old"}},
		{"ok/has-recurring-true-any-case", "?has_recurring=True", []string{}},
		{"ok/dl-number-is-sealed", "?dl_number=D1", []string{}},
		{"ok/empty-and-unknown-ignored", "?title=&nonsense=1&expiring_in_months=3&sort=title", []string{"Bank", "Company", "Master", "Visa, old"}},
		{"ok/created-range", "?created_ts=" + itoa(start+60) + "|" + itoa(start+120) + "&sort=created_ts", []string{"Master", "Bank"}},
		{"ok/created-exact", "?created_ts=" + itoa(start+180), []string{"Company"}},
		{"ok/created-open-range", "?created_ts=" + itoa(start+120) + "|&sort=created_ts", []string{"Bank", "Company"}},
		{"ok/created-bad", "?created_ts=soon", []string{}},
		{"ok/sort-desc", "?sort=-exp_date,title", []string{"Master", "Visa, old", "Bank", "Company"}},
		{"ok/sort-account-type", "?sort=account_type,title", []string{"Company", "Master", "Bank", "Visa, old"}},
		{"ok/sort-not-whitelisted", "?sort=routing,-title", []string{"Visa, old", "Master", "Company", "Bank"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, titles(t, must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)))
		})
	}
	t.Run("ok/sort-attributes", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/accountvaults?sort=-exp_date,bogus,title"), 200)
		body := string(r.Body)
		want := `"sort":{"attributes":{"exp_date":"desc","title":"asc"}}}}`
		if body[len(body)-len(want):] != want {
			t.Errorf("sort attributes: %s", body[len(body)-len(want)-20:])
		}
	})
}

// TestListContainsUnicode checks that free-text filters match case-insensitively whatever the
// letters (§1.6 "Free-text columns match case-insensitively anywhere in the value"), on both
// engines: a vault title and a contact's last name with É, Ó and ß.
func TestListContainsUnicode(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"ÉCOLE Straße"`)
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"Ecole"`)
		s.mustContact(t, `"last_name":"Ólafsson"`)
		s.mustContact(t, `"last_name":"Olafsdottir"`)
		tests := []struct {
			name, query string
			want        []string
		}{
			{"ok/title-upper", "?title=%C3%89COLE", []string{"ÉCOLE Straße"}},
			{"ok/title-lower", "?title=%C3%A9cole", []string{"ÉCOLE Straße"}},
			{"ok/title-mixed", "?title=%C3%A9CoLe", []string{"ÉCOLE Straße"}},
			{"ok/title-sharp-s", "?title=STRA%C3%9FE", []string{"ÉCOLE Straße"}},
			{"ok/title-ascii", "?title=COLE&sort=title", []string{"Ecole", "ÉCOLE Straße"}},
			{"ok/last-name-upper", "?last_name=%C3%93LAF", []string{"Ólafsson"}},
			{"ok/last-name-lower", "?last_name=%C3%B3laf", []string{"Ólafsson"}},
			{"ok/last-name-mixed", "?last_name=%C3%93laf", []string{"Ólafsson"}},
			{"ok/last-name-ascii", "?last_name=OLAF", []string{"Olafsdottir"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if strings.HasPrefix(tt.query, "?title=") {
					diff(t, tt.want, titles(t, must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)))
					return
				}
				var got []string
				for _, c := range must(t, s.get(t, "/v2/contacts"+tt.query), 200).json(t)["contacts"].([]any) {
					got = append(got, c.(map[string]any)["last_name"].(string))
				}
				diff(t, tt.want, got)
			})
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestListTimestampOrList checks that a *_ts filter takes a comma list of exact seconds, as
// every exact column does (§1.6 "Numeric and *_ts columns also take an inclusive range"), and
// that each second matches records made at any millisecond within it, on both engines.
func TestListTimestampOrList(t *testing.T) {
	engines(t, func(t *testing.T, s *server) {
		start := testNow.Unix()
		for _, title := range []string{"A", "B", "C"} {
			s.clock.Add(time.Minute + 250*time.Millisecond)
			s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"`+title+`"`)
		}
		a, c := itoa(start+60), itoa(start+180)
		tests := []struct {
			name, query string
			want        []string
		}{
			{"ok/one", "?created_ts=" + a, []string{"A"}},
			{"ok/or-list", "?created_ts=" + a + "," + c + "&sort=title", []string{"A", "C"}},
			{"ok/or-list-spaces", "?created_ts=%20" + c + "%20,%20" + a + "&sort=title", []string{"A", "C"}},
			{"ok/or-list-bad-item-ignored", "?created_ts=soon," + c, []string{"C"}},
			{"ok/or-list-modified", "?modified_ts=" + a + "," + c + "&sort=-title", []string{"C", "A"}},
			{"ok/or-list-nothing", "?created_ts=1,2", []string{}},
			{"ok/or-list-all-bad", "?created_ts=soon,later", []string{}},
			{"ok/or-list-huge", "?created_ts=99999999999999999," + a + ",-99999999999999999", []string{"A"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				diff(t, tt.want, titles(t, must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)))
			})
		}
		var got []string
		for _, v := range must(t, s.get(t, "/v2/contacts?created_ts="+a+","+c), 200).json(t)["contacts"].([]any) {
			got = append(got, v.(map[string]any)["last_name"].(string))
		}
		diff(t, []string(nil), got)
	})
}

// TestListNullTimestamp checks that a *_ts filter never matches a record whose value is null
// (§1.5: a contact's modified_ts stays null until its first update), whatever range it names:
// null is not a time, not second 0.
func TestListNullTimestamp(t *testing.T) {
	s := mustServer(t)
	s.mustContact(t, `"last_name":"Untouched"`)
	id := s.mustContact(t, `"last_name":"Edited"`)["id"].(string)
	s.clock.Add(time.Minute)
	must(t, s.put(t, "/v2/contacts/"+id, `{"contact":{"city":"Gainesville"}}`), 200)
	edited := itoa(s.clock.Now().Unix())
	tests := []struct {
		name, query string
		want        []string
	}{
		{"ok/zero", "?modified_ts=0", nil},
		{"ok/zero-or-list", "?modified_ts=0," + edited, []string{"Edited"}},
		{"ok/range-from-zero", "?modified_ts=0|" + edited, []string{"Edited"}},
		{"ok/range-around-zero", "?modified_ts=-5|5", nil},
		{"ok/open-range", "?modified_ts=|" + edited, []string{"Edited"}},
		{"ok/custom-from-zero", "?modified_ts=custom&modified_ts_from=0", []string{"Edited"}},
		{"ok/custom-open", "?modified_ts=custom", []string{"Edited"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range must(t, s.get(t, "/v2/contacts"+tt.query), 200).json(t)["contacts"].([]any) {
				got = append(got, c.(map[string]any)["last_name"].(string))
			}
			diff(t, tt.want, got)
		})
	}
}

// TestListTimestampKeywords computes the timestamp keywords (§0.1 #6) in the user's time zone,
// here Pacific/Auckland (UTC+13 in November), with weeks starting on Sunday.
func TestListTimestampKeywords(t *testing.T) {
	s := mustServer(t)
	_, nz := s.mustUser(t, vault.NewUser{Username: "kiwi", PrimaryLocationID: s.creds.Fortis.LocationID, TZ: "Pacific/Auckland"})
	// Now is Thursday 19 November 2026, 04:30 in Auckland (Wednesday 18th, 15:30 UTC).
	at := map[string]time.Time{
		"A": time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC), // Thu 19 Nov 01:00 NZDT: today
		"B": time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC), // Wed 18 Nov 23:00 NZDT: yesterday (today in UTC)
		"C": time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC), // Sun 15 Nov 23:00 NZDT: this week
		"D": time.Date(2026, 11, 14, 12, 0, 0, 0, time.UTC), // Sun 15 Nov 01:00 NZDT: this week (last week in UTC)
		"E": time.Date(2026, 11, 8, 0, 0, 0, 0, time.UTC),   // Sun 8 Nov 13:00 NZDT: last week
		"F": time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC),  // Sun 25 Oct 13:00 NZDT: last month, last 30 days
		"G": time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),   // Thu 1 Oct 13:00 NZDT: last month
		"H": time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC),  // Wed 30 Sep 23:00 NZDT: none of them
	}
	for _, name := range []string{"H", "G", "F", "E", "D", "C", "B", "A"} {
		s.clock.Set(at[name])
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"`+name+`"`)
	}
	s.clock.Set(testNow)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"ok/today", "today", []string{"A"}},
		{"ok/yesterday", "yesterday", []string{"B"}},
		{"ok/this-week", "this%20week", []string{"D", "C", "B", "A"}},
		{"ok/last-week", "last+week", []string{"E"}},
		{"ok/last-30-days", "last%2030%20days", []string{"F", "E", "D", "C", "B", "A"}},
		{"ok/this-month", "this%20month", []string{"E", "D", "C", "B", "A"}},
		{"ok/last-month", "last%20month", []string{"G", "F"}},
		{"ok/custom", "custom&created_ts_from=" + itoa(at["E"].Unix()) + "&created_ts_to=" + itoa(at["C"].Unix()), []string{"E", "D", "C"}},
		{"ok/custom-open-end", "custom&created_ts_from=" + itoa(at["B"].Unix()), []string{"B", "A"}},
		// Bounds past any time are open ends, not an overflow that matches nothing.
		{"ok/custom-huge-bounds", "custom&created_ts_from=-10000000000000000&created_ts_to=9223372036854775807", []string{"H", "G", "F", "E", "D", "C", "B", "A"}},
		{"ok/unknown-keyword", "tomorrow", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := must(t, s.do(t, call{Method: "GET", Path: "/v2/accountvaults?sort=created_ts&created_ts=" + tt.query, As: &nz}), 200)
			diff(t, tt.want, titles(t, r))
		})
	}
	t.Run("ok/utc-user-differs", func(t *testing.T) {
		_, utc := s.mustUser(t, vault.NewUser{Username: "utc", PrimaryLocationID: s.creds.Fortis.LocationID, TZ: "UTC"})
		r := must(t, s.do(t, call{Method: "GET", Path: "/v2/accountvaults?sort=created_ts&created_ts=today", As: &utc}), 200)
		diff(t, []string{"B", "A"}, titles(t, r))
		r = must(t, s.do(t, call{Method: "GET", Path: "/v2/accountvaults?sort=created_ts&created_ts=this%20week", As: &utc}), 200)
		diff(t, []string{"C", "B", "A"}, titles(t, r))
	})
}

// TestListExpands checks expands on list and single GETs (§1.7, §2.7).
func TestListExpands(t *testing.T) {
	s := mustServer(t)
	c := s.mustContact(t, `"last_name":"Exp","first_name":"Jo"`)
	cc := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","contact_id":"`+c["id"].(string)+`","title":"cc"`)
	s.mustVault(t, `"payment_method":"ach","account_number":"700953657","routing":"072000326","account_holder_name":"Jo","title":"ach"`)
	loc, err := s.store.GetLocation(t.Context(), s.creds.MerchantID, s.creds.Fortis.LocationID)
	if err != nil {
		t.Fatal(err)
	}

	r := must(t, s.get(t, "/v2/accountvaults?sort=title&expand=product_transaction,contact,bogus,location,created_user,signature,account_vault_cau_product_transaction,account_vault_cau_logs"), 200)
	items := r.json(t)["accountvaults"].([]any)
	ach, card := items[0].(map[string]any), items[1].(map[string]any)
	diff(t, loc.DefaultACH, ach["product_transaction"].(map[string]any)["id"])
	diff(t, loc.DefaultCC, card["product_transaction"].(map[string]any)["id"])
	diff(t, nil, ach["contact"])
	diff(t, "Exp", card["contact"].(map[string]any)["last_name"])
	diff(t, s.creds.Fortis.LocationID, card["location"].(map[string]any)["id"])
	diff(t, s.creds.Fortis.UserID, card["created_user"].(map[string]any)["id"])
	diff(t, []any{nil, nil, []any{}}, []any{card["signature"], card["account_vault_cau_product_transaction"], card["account_vault_cau_logs"]})
	if _, ok := card["bogus"]; ok {
		t.Error("an unknown expand was embedded")
	}
	// Embedded records follow the parent's fields, in the order asked, before _links.
	single := string(must(t, s.get(t, "/v2/accountvaults/"+cc["id"].(string)+"?expand=location,contact"), 200).Body)
	order := []string{`"cau_last_updated_ts":null,"location":{`, `"contact":{"id":"` + c["id"].(string), `"_links":{"self":{"href":"https://vault.example/v2/accountvaults/` + cc["id"].(string) + `"}}}}`}
	pos := 0
	for _, part := range order {
		i := indexFrom(single, part, pos)
		if i < 0 {
			t.Fatalf("%q not found in order in %s", part, single)
		}
		pos = i
	}
	if !contains(single, `"contact_id":"`+c["id"].(string)+`"`) {
		t.Error("the parent lost its foreign key")
	}
	_ = http.StatusOK
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func contains(s, sub string) bool { return indexFrom(s, sub, 0) >= 0 }

// TestListRepeatedParams checks that a query reads as the vendor's PHP service reads $_GET
// (README "Query strings"): a repeated parameter keeps its last value, whatever it is (a
// filter, page, page_size, sort, expand, location_id, api_id), a known filter sent as an
// array (last_four[]=) is a 422, and list controls sent as arrays fall back to their defaults.
func TestListRepeatedParams(t *testing.T) {
	s := mustServer(t)
	loc := s.creds.Fortis.LocationID
	other := s.mustLocation(t, "Elsewhere").Location.ID
	for _, title := range []string{"v1", "v2", "v3", "v4", "v5"} {
		s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"`+title+`"`)
		s.clock.Add(time.Second)
	}
	s.mustVault(t, `"payment_method":"cc","account_number":"5454545454545454","exp_date":"1228","title":"mc","account_vault_api_id":"MC1"`)
	all := []string{"mc", "v1", "v2", "v3", "v4", "v5"}

	tests := []struct {
		name, query string
		want        []string
	}{
		{"ok/filter-last", "?last_four=1111&last_four=5454", []string{"mc"}},
		{"ok/page-size-last", "?sort=title&page_size=5&page_size=2", []string{"mc", "v1"}},
		{"ok/page-last", "?sort=title&page_size=2&page=1&page=3", []string{"v4", "v5"}},
		{"ok/sort-last", "?sort=-title&sort=title", all},
		{"ok/location-last", "?sort=title&location_id=" + other + "&location_id=" + loc, all},
		{"ok/array-then-plain", "?last_four[]=1111&last_four=5454", []string{"mc"}},
		{"ok/page-size-array-is-default", "?sort=title&page_size[]=2", all},
		{"ok/sort-array-ignored", "?sort[]=-title&page_size=1", []string{"mc"}},
		{"ok/filter-bracket-syntax-is-unknown", "?sort=title&filter[last_four]=5454", all},
		{"ok/empty-list-ignored", "?sort=title&id=,", all},
		{"ok/blank-list-ignored", "?sort=title&last_four=%20,%20", all},
		{"ok/empty-ts-list-ignored", "?sort=title&created_ts=,", all},
		{"ok/empty-flag-list-ignored", "?sort=title&has_recurring=,", all},
		{"ok/empty-items-skipped", "?sort=title&last_four=,5454,", []string{"mc"}},
		{"ok/empty-items-of-unknown-values", "?payment_method=,xx", []string{}},
		{"ok/contains-many-commas-is-one-value", "?title=" + strings.Repeat(",", 1000) + "v", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, titles(t, must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)))
		})
	}
	t.Run("ok/expand-last", func(t *testing.T) {
		v := must(t, s.get(t, "/v2/accountvaults?expand=contact&expand=location&page_size=1"), 200).json(t)["accountvaults"].([]any)[0].(map[string]any)
		_, contact := v["contact"]
		_, location := v["location"]
		diff(t, []bool{false, true}, []bool{contact, location})
	})
	t.Run("ok/api-id-last", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/accountvaults/MC1?api_id=0&api_id=1&location_id="+other+"&location_id="+loc), 200)
		diff(t, "mc", r.record(t, "accountvault")["title"])
	})
	t.Run("fail/api-id-location-array", func(t *testing.T) {
		must(t, s.get(t, "/v2/accountvaults/MC1?api_id=1&location_id[]="+loc), 404)
		c := s.mustContact(t, `"last_name":"Arr","contact_api_id":"ARR1"`)
		diff(t, c["id"], must(t, s.get(t, "/v2/contacts/ARR1?api_id=1&location_id[]="+loc+"&location_id="+loc), 200).record(t, "contact")["id"])
		must(t, s.get(t, "/v2/contacts/ARR1?api_id=1&location_id="+loc+"&location_id[]="+loc), 404)
	})
	t.Run("ok/link-repeats-query", func(t *testing.T) {
		r := must(t, s.get(t, "/v2/accountvaults?page_size=5&page_size=2&page=9&page=2"), 200)
		links := meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)
		diff(t, map[string]any{"href": "https://vault.example/v2/accountvaults?page_size=5&page_size=2&page=3"}, links["next"])
	})
	t.Run("ok/link-redacts-bracketed-account-names", func(t *testing.T) {
		// A PHP array named for account data or a credential is read by its base name.
		r := must(t, s.get(t, "/v2/accountvaults?cvv[]=123&ssn4%5B0%5D=1234&user-api-key[]=k123&page_size=1"), 200)
		links := meta(t, r)["pagination"].(map[string]any)["links"].(map[string]any)
		diff(t, map[string]any{"href": "https://vault.example/v2/accountvaults?cvv[]=redacted&ssn4%5B0%5D=redacted&page_size=1&page=1"}, links["self"])
	})
	for _, bad := range []struct{ name, query, want string }{
		{"fail/filter-array", "?last_four[]=1111", `{"errors":{"last_four":["Last Four is invalid."]}}`},
		{"fail/plain-then-array", "?last_four=1111&last_four[x]=1111", `{"errors":{"last_four":["Last Four is invalid."]}}`},
		{"fail/location-array", "?location_id[]=" + loc, `{"errors":{"location_id":["Location Id is invalid."]}}`},
		{"fail/location-last-inaccessible", "?location_id=" + loc + "&location_id=" + other, `{"errors":{"location_id":["location_id provided is not valid"]}}`},
		{"fail/every-field-in-query-order", "?title[]=a&id=" + strings.Repeat("a,", 1000) + "&last_four[]=1",
			`{"errors":{"title":["Title is invalid."],"id":["Id has more than 1000 values."],"last_four":["Last Four is invalid."]}}`},
		// A bad location_id does not hide the filters' errors (§1.4: every failing field).
		{"fail/location-and-filters", "?last_four[]=1&location_id=" + other + "&title[]=a",
			`{"errors":{"location_id":["location_id provided is not valid"],"last_four":["Last Four is invalid."],"title":["Title is invalid."]}}`},
	} {
		t.Run(bad.name, func(t *testing.T) {
			diff(t, bad.want, string(must(t, s.get(t, "/v2/accountvaults"+bad.query), 422).Body))
		})
	}
	// Every list, locations and users included, reports a bad location_id together with its
	// filters' errors (§1.4: every failing field).
	for _, c := range []string{"accountvaults", "contacts", "transactions", "locations", "users", "producttransactions"} {
		t.Run("fail/location-and-filters-"+c, func(t *testing.T) {
			diff(t, `{"errors":{"location_id":["location_id provided is not valid"],"id":["Id is invalid."]}}`,
				string(must(t, s.get(t, "/v2/"+c+"?location_id="+other+"&id[]=x"), 422).Body))
		})
	}
}

// TestListActiveFilter checks the vault list's active filter (§2.7 "active=0 lists the
// deleted ones"): a boolean read as §1.5 reads one, in any case.
func TestListActiveFilter(t *testing.T) {
	s := mustServer(t)
	gone := s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"gone"`)
	s.mustVault(t, `"payment_method":"cc","account_number":"4111111111111111","exp_date":"1228","title":"kept"`)
	must(t, s.del(t, "/v2/accountvaults/"+gone["id"].(string)), 204)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"ok/default-active", "", []string{"kept"}},
		{"ok/one", "?active=1", []string{"kept"}},
		{"ok/zero", "?active=0", []string{"gone"}},
		{"ok/true-any-case", "?active=TRUE", []string{"kept"}},
		{"ok/false-any-case", "?active=False", []string{"gone"}},
		{"ok/both", "?active=1,False&sort=title", []string{"gone", "kept"}},
		{"ok/other-matches-nothing", "?active=2", []string{}},
		{"ok/empty-list-ignored", "?active=,", []string{"kept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff(t, tt.want, titles(t, must(t, s.get(t, "/v2/accountvaults"+tt.query), 200)))
		})
	}
}
