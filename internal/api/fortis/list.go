package fortis

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payvault/payvault/internal/api/httpx"
	"github.com/payvault/payvault/internal/vault"
)

// This file is the one list engine of §1.6, shared by every collection: filters, sort,
// pagination and the meta block. It translates a query string into a vault.Query whose
// field names are the store's columns.

// filterKind says how a query parameter filters.
type filterKind uint8

const (
	filterExact    filterKind = iota + 1 // an exact value; a comma lists alternatives
	filterContains                       // a case-insensitive substring; a comma is a character
	filterTime                           // Unix seconds: exact, a|b, or a keyword (§0.1 #6)
	filterNumber                         // an exact number (comma list) or a|b
	filterNever                          // a column that cannot be searched (sealed): matches nothing
	filterFalse                          // a flag that is always false here (has_recurring)
)

// listField is a filterable wire field.
type listField struct {
	col  string
	kind filterKind
	// value maps a wire value to the stored one; false means it can match nothing.
	value func(string) (string, bool)
	// values maps a wire value to the stored values it stands for (a Fortis status code is
	// a type and an outcome); none means it can match nothing. It takes precedence over value.
	values func(string) []string
	// number parses a filterNumber value or range bound (dollars to cents); integers when nil.
	number func(string) (int64, bool)
}

// listDef describes one collection's list.
type listDef struct {
	collection string
	fields     map[string]listField
	sort       map[string]string // sort maps sortable wire fields to columns.
	// ranks orders some sortable fields by a ranking of their column's values instead of
	// the values themselves (vault.SortKey.Rank).
	ranks map[string][][]string
}

// listReq is a parsed list request.
type listReq struct {
	q         vault.Query
	page      int
	size      int
	sortAttrs object
	never     bool  // never is set when some filter can match nothing.
	err       error // err refuses the list (a filter with too many values).
	// pastEnd is set when the page starts past maxOffset records: the list is counted, and
	// the page is [] (§1.6 "A page past the end returns [] with normal meta").
	pastEnd bool
	def     *listDef
}

// The pagination bounds of §1.6, maxOffset, the offset past which no list has records, and
// maxPage, the first page past the end of any list whatever its page size: a larger page
// (page=99999999999999, a card number sent as page=) is read as maxPage, so that
// currentPage and the links never repeat an absurd digit run.
// maxFilterValues is payvault's bound on the comma-separated values of one filter: each is a
// bound parameter, and a statement takes at most 65,535 of them on PostgreSQL and 32,766 on
// SQLite.
const (
	defaultPageSize = 20
	maxPageSize     = 5000
	maxOffset       = 1 << 31
	maxPage         = maxOffset + 2
	maxFilterValues = 1000
)

// listControls are the query parameters that are never filters.
var listControls = map[string]bool{"page": true, "page_size": true, "sort": true, "expand": true, "api_id": true, "location_id": true, "fields": true}

// parseList reads filters, sort and page from the query, as PHP reads it (query: a repeated
// parameter keeps its last value). Unknown parameters, empty values (an empty comma list
// included) and credentials are ignored; a filter sent as an array is a 422, and so is one
// with too many values; timestamp keywords are computed in the user's time zone.
func (a *API) parseList(r *http.Request, p *vault.Principal, def *listDef) *listReq {
	qv := query(r)
	lr := &listReq{page: 1, size: defaultPageSize, def: def}
	// page, page_size, sort and expand sent as arrays are not scalars: they fall back to
	// their defaults, as the vendor's Yii service ignores them (get returns "").
	if n, ok := positiveInt(qv.get("page")); ok {
		lr.page = min(n, maxPage)
	}
	if n, ok := positiveInt(qv.get("page_size")); ok {
		lr.size = min(n, maxPageSize)
	}
	if lr.page-1 > maxOffset/lr.size {
		// The page starts past the end of any list, and its offset could overflow: fetch
		// one row for the count alone, and show none (serveList).
		lr.pastEnd = true
		lr.q.Limit, lr.q.Offset = 1, 0
	} else {
		lr.q.Limit, lr.q.Offset = lr.size, (lr.page-1)*lr.size
	}

	loc := userLocation(p)
	now := a.svc.Now()
	errs := newFieldErrors(nil)
	for _, name := range qv.names {
		if listControls[name] || httpx.IsCredentialParam(name) {
			continue
		}
		f, ok := def.fields[name]
		if !ok {
			continue
		}
		if qv.array(name) {
			// last_four[]=1111: a filter takes one value (a comma list for alternatives).
			errs.add(name, msgInvalid(name))
			continue
		}
		v := strings.TrimSpace(qv.get(name))
		if v == "" || f.kind != filterContains && f.kind != filterNever && emptyItems(v) {
			// §1.6 "Empty values are ignored", an empty comma list (id=,) included.
			continue
		}
		if f.kind != filterContains && f.kind != filterNever && checkValueCount(name, v) != nil {
			// On free text a comma is a character (§1.6), not a value's end.
			errs.add(name, tooManyValues(name))
			continue
		}
		switch f.kind {
		case filterNever:
			lr.never = true
		case filterFalse:
			if !listsFalse(v) {
				lr.never = true
			}
		case filterContains:
			lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: f.col, Op: vault.OpContains, Values: []string{v}})
		case filterExact:
			lr.addIn(f, v)
		case filterNumber:
			if lo, hi, ok := parseRangeWith(v, f.number); ok {
				lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: f.col, Op: vault.OpRange, Lo: lo, Hi: hi})
			} else if strings.Contains(v, "|") {
				lr.never = true
			} else {
				lr.addIn(f, v)
			}
		case filterTime:
			if strings.Contains(v, ",") && !strings.Contains(v, "|") {
				// A comma list of exact seconds, each matching its whole second.
				lr.addIn(listField{col: f.col, number: parseSeconds}, v)
				continue
			}
			lo, hi, ok := timeRange(v, qv.get(name+"_from"), qv.get(name+"_to"), now, loc)
			if !ok {
				lr.never = true
				continue
			}
			// A null *_ts is kept as second 0, so a range starts at second 1: null is no time.
			lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: f.col, Op: vault.OpRange, Lo: max(lo, 1), Hi: hi})
		}
	}

	lr.err = errs.err()

	seen := map[string]bool{}
	for _, key := range strings.Split(qv.get("sort"), ",") {
		key = strings.TrimSpace(key)
		desc := strings.HasPrefix(key, "-")
		key = strings.TrimPrefix(key, "-")
		col, ok := def.sort[key]
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		lr.q.Sort = append(lr.q.Sort, vault.SortKey{Field: col, Desc: desc, Rank: def.ranks[key]})
		dir := "asc"
		if desc {
			dir = "desc"
		}
		lr.sortAttrs = append(lr.sortAttrs, member{key, dir})
	}
	if len(lr.q.Sort) == 0 {
		lr.q.Sort = []vault.SortKey{{Field: "id", Desc: true}}
		lr.sortAttrs = object{{"id", "desc"}}
	}
	return lr
}

// positiveInt parses a page or page_size of at least 1; one past the int range is the
// largest int (a page past any end, a size past the cap), not invalid.
func positiveInt(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		return math.MaxInt, true
	}
	return n, err == nil && n >= 1
}

// checkValueCount refuses a filter named name whose comma-separated value v holds more than
// maxFilterValues values.
func checkValueCount(name, v string) error {
	if strings.Count(v, ",") < maxFilterValues {
		return nil
	}
	return invalid(nil, name, tooManyValues(name))
}

// tooManyValues is the message for a filter named name with more than maxFilterValues values.
func tooManyValues(name string) string {
	return label(name) + " has more than " + strconv.Itoa(maxFilterValues) + " values."
}

// emptyItems reports whether every item of the comma list v is blank (",", " , ").
func emptyItems(v string) bool {
	for _, item := range strings.Split(v, ",") {
		if strings.TrimSpace(item) != "" {
			return false
		}
	}
	return true
}

// listsFalse reports whether a comma list of booleans includes false, read as the active
// filter reads them (activeValue: 1/0, true/false, in any case).
func listsFalse(v string) bool {
	for _, alt := range strings.Split(v, ",") {
		if b, ok := activeValue(strings.TrimSpace(alt)); ok && b == "0" {
			return true
		}
	}
	return false
}

// addIn adds an exact filter on a comma list of alternatives.
func (lr *listReq) addIn(f listField, v string) {
	var vals []string
	for _, alt := range strings.Split(v, ",") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		if f.values != nil {
			vals = append(vals, f.values(alt)...)
			continue
		}
		if f.number != nil {
			n, ok := f.number(alt)
			if !ok {
				continue
			}
			alt = strconv.FormatInt(n, 10)
		}
		if f.value != nil {
			var ok bool
			if alt, ok = f.value(alt); !ok {
				continue
			}
		}
		vals = append(vals, alt)
	}
	if len(vals) == 0 {
		lr.never = true
		return
	}
	lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: f.col, Op: vault.OpIn, Values: vals})
}

// scope restricts the list to the given locations.
func (lr *listReq) scope(col string, locations []string) {
	if len(locations) == 0 {
		lr.never = true
		return
	}
	lr.q.Filters = append(lr.q.Filters, vault.Filter{Field: col, Op: vault.OpIn, Values: locations, Fold: true})
}

// listLocations returns the location_id query parameter's locations, each of which the
// principal must reach (else a 422), or nil when it is absent.
func listLocations(r *http.Request, p *vault.Principal) ([]string, error) {
	qv := query(r)
	if qv.array("location_id") {
		return nil, invalid(nil, "location_id", msgInvalid("location_id"))
	}
	v := strings.TrimSpace(qv.get("location_id"))
	if v == "" {
		return nil, nil
	}
	if err := checkValueCount("location_id", v); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range strings.Split(v, ",") {
		id = strings.ToLower(strings.TrimSpace(id))
		if id == "" || seen[id] {
			continue
		}
		if !p.CanReach(id) {
			return nil, invalid(nil, "location_id", msgLocation)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// withScopeErr returns a list's scope error (its location_id) together with the list's own
// filter errors, so that a 422 names every failing parameter (§1.4), location_id first; an
// error that is not a 422 is returned alone, and nil when the scope is fine (the filters'
// errors are then served by serveList).
func withScopeErr(err error, lr *listReq) error {
	var scope, filters *validationError
	if !errors.As(err, &scope) || !errors.As(lr.err, &filters) {
		return err
	}
	fe := newFieldErrors(nil)
	for _, e := range []*fieldErrors{scope.fe, filters.fe} {
		for _, field := range e.added {
			fe.add(field, e.msgs[field])
		}
	}
	return fe.err()
}

// primaryScope is the scope of vault and contact lists: the location_id parameter, or the
// user's primary location (§1.6).
func primaryScope(r *http.Request, p *vault.Principal) ([]string, error) {
	locs, err := listLocations(r, p)
	if err != nil || locs != nil {
		return locs, err
	}
	return []string{p.DefaultLocation()}, nil
}

// accessibleScope is the scope of location, user and product-transaction lists: the
// location_id parameter, or every accessible location.
func accessibleScope(r *http.Request, p *vault.Principal) ([]string, error) {
	locs, err := listLocations(r, p)
	if err != nil || locs != nil {
		return locs, err
	}
	if p.Allowed == nil {
		return nil, nil
	}
	return p.Allowed, nil
}

// parseRange parses an inclusive range a|b of integers; an empty bound is open.
func parseRange(v string) (lo, hi int64, ok bool) { return parseRangeWith(v, nil) }

// parseRangeWith parses an inclusive range a|b whose bounds number parses (integers when
// nil); an empty bound is open.
func parseRangeWith(v string, number func(string) (int64, bool)) (lo, hi int64, ok bool) {
	if number == nil {
		number = func(s string) (int64, bool) {
			n, err := strconv.ParseInt(s, 10, 64)
			return n, err == nil
		}
	}
	a, b, found := strings.Cut(v, "|")
	if !found {
		return 0, 0, false
	}
	lo, hi = -openBound, openBound
	if a = strings.TrimSpace(a); a != "" {
		if lo, ok = number(a); !ok {
			return 0, 0, false
		}
	}
	if b = strings.TrimSpace(b); b != "" {
		if hi, ok = number(b); !ok {
			return 0, 0, false
		}
	}
	return max(lo, -openBound), min(hi, openBound), true
}

// parseSeconds parses Unix seconds; a second past any time (openBound) matches nothing, and
// so does second 0 or one before it, since a null *_ts is kept as 0.
func parseSeconds(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0 && n < openBound
}

// openBound stands for an open range end; it keeps seconds×1000 within int64.
const openBound = int64(1) << 40

// userLocation is the time zone of the principal's user (America/New_York by default).
func userLocation(p *vault.Principal) *time.Location {
	tz := "America/New_York"
	if p.User != nil && p.User.TZ != "" {
		tz = p.User.TZ
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// timeRange turns a *_ts filter value into an inclusive range of Unix seconds: one second, a
// range a|b, a keyword computed in loc (weeks start on Sunday), or custom with the _from and
// _to parameters.
func timeRange(v, from, to string, now time.Time, loc *time.Location) (lo, hi int64, ok bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, n, true
	}
	if lo, hi, ok := parseRange(v); ok {
		return lo, hi, true
	}
	now = now.In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	span := func(start, end time.Time) (int64, int64, bool) { return start.Unix(), end.Unix() - 1, true }
	week := day.AddDate(0, 0, -int(day.Weekday()))
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	switch strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(v, "_", " "))), " ") {
	case "today":
		return span(day, day.AddDate(0, 0, 1))
	case "yesterday":
		return span(day.AddDate(0, 0, -1), day)
	case "this week":
		return span(week, week.AddDate(0, 0, 7))
	case "last week":
		return span(week.AddDate(0, 0, -7), week)
	case "last 30 days":
		return span(day.AddDate(0, 0, -29), day.AddDate(0, 0, 1))
	case "this month":
		return span(month, month.AddDate(0, 1, 0))
	case "last month":
		return span(month.AddDate(0, -1, 0), month)
	case "custom":
		lo, hi = -openBound, openBound
		var err error
		if from = strings.TrimSpace(from); from != "" {
			if lo, err = strconv.ParseInt(from, 10, 64); err != nil {
				return 0, 0, false
			}
		}
		if to = strings.TrimSpace(to); to != "" {
			if hi, err = strconv.ParseInt(to, 10, 64); err != nil {
				return 0, 0, false
			}
		}
		return max(lo, -openBound), min(hi, openBound), true
	}
	return 0, 0, false
}

// meta is the list's meta block (§1.6).
func (a *API) meta(r *http.Request, lr *listReq, total int) object {
	pageCount := 0
	if total > 0 {
		pageCount = (total + lr.size - 1) / lr.size
	}
	ls := object{{"self", object{{"href", a.pageLink(r, lr, lr.page)}}}}
	if lr.page > 1 {
		ls = append(ls, member{"first", object{{"href", a.pageLink(r, lr, 1)}}}, member{"prev", object{{"href", a.pageLink(r, lr, lr.page-1)}}})
	}
	if lr.page < pageCount {
		ls = append(ls, member{"next", object{{"href", a.pageLink(r, lr, lr.page+1)}}}, member{"last", object{{"href", a.pageLink(r, lr, pageCount)}}})
	}
	return object{
		{"pagination", object{{"links", ls}, {"totalCount", total}, {"pageCount", pageCount}, {"currentPage", lr.page - 1}, {"perPage", lr.size}}},
		{"sort", object{{"attributes", lr.sortAttrs}}},
	}
}

// pageLink is {url} plus the path, then the incoming query's segments in their order and
// encoding less every page= and credential segment, with page=N last. A long digit run in a
// segment (a card number a client put into a filter) is masked as in the access log (in a
// filter's list or range item by item, see itemsLinkValue), and a parameter named for account
// data (cvv=, account_number=, ssn4=) keeps its name but not its value, however short, unless
// the list filters on its value (routing=), and page=N is at most maxPage: so a link never
// repeats account data, and a link's list is the request's (a dl_number= filter, which
// matches nothing whatever its value, still matches nothing).
func (a *API) pageLink(r *http.Request, lr *listReq, page int) string {
	var kept []string
	if r.URL.RawQuery != "" {
		for _, seg := range strings.Split(r.URL.RawQuery, "&") {
			rawName, _, hasValue := strings.Cut(seg, "=")
			name := rawName
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if seg == "" || name == "page" || httpx.IsCredentialParam(name) {
				continue
			}
			if hasValue && httpx.IsAccountParam(name) && !lr.filtersOn(name) {
				kept = append(kept, httpx.RedactQuerySegment(rawName)+"=redacted")
				continue
			}
			if f, ok := lr.field(name); ok && hasValue && f.kind != filterContains {
				_, raw, _ := strings.Cut(seg, "=")
				kept = append(kept, rawName+"="+itemsLinkValue(raw))
				continue
			}
			kept = append(kept, httpx.RedactQuerySegment(seg))
		}
	}
	kept = append(kept, "page="+strconv.Itoa(page))
	return a.baseURL(r) + strings.TrimRight(r.URL.Path, "/") + "?" + strings.Join(kept, "&")
}

// filtersOn reports whether the list narrows by the value of the query parameter name.
func (lr *listReq) filtersOn(name string) bool {
	f, ok := lr.field(name)
	return ok && f.kind != filterNever
}

// field returns the list's filter named name.
func (lr *listReq) field(name string) (listField, bool) {
	if lr.def == nil {
		return listField{}, false
	}
	f, ok := lr.def.fields[name]
	return f, ok
}

// itemsLinkValue returns a filter's raw query value for a link, its items (the values of a
// comma-separated list, the bounds of a | range) read one by one: an item with a long digit
// run (a card number) is masked as in the access log, and a value with none comes back as it
// came; a valid IBAN is masked too (httpx.RedactValue). Read whole, two timestamps or BINs
// side by side would look like one card number, be masked, and the link would select other
// records.
func itemsLinkValue(raw string) string {
	v, err := url.QueryUnescape(raw)
	if err != nil {
		v = raw
	}
	var b strings.Builder
	changed, start := false, 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && v[i] != ',' && v[i] != '|' {
			continue
		}
		item := v[start:i]
		r := httpx.RedactValue(item)
		changed = changed || r != item
		b.WriteString(r)
		if i < len(v) {
			b.WriteByte(v[i])
		}
		start = i + 1
	}
	if !changed {
		return raw
	}
	return url.QueryEscape(b.String())
}

// writeList answers a list.
func writeList(w http.ResponseWriter, key string, items []object, meta object) {
	if items == nil {
		items = []object{}
	}
	writeJSON(w, http.StatusOK, object{{key, items}, {"meta", meta}})
}

// expand adds to o, before "_links", one member for each requested name that value knows
// (ok), in the order requested; the first error stops it.
func expand(o object, names []string, value func(name string) (v any, ok bool, err error)) (object, error) {
	var extra object
	for _, n := range names {
		v, ok, err := value(n)
		if err != nil {
			return nil, err
		}
		if ok {
			extra = append(extra, member{n, v})
		}
	}
	return o.withBefore("_links", extra), nil
}

// expandNames returns the expand parameter's names in order, without repeats.
func expandNames(r *http.Request) []string {
	var out []string
	for _, n := range strings.Split(query(r).get("expand"), ",") {
		n = strings.TrimSpace(n)
		if n == "" || contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// serveList answers a list request under key: fetch runs lr's query (unless its scope can
// match nothing), and render turns each record into its object, expands included.
func serveList[T any](a *API, w http.ResponseWriter, r *http.Request, p *vault.Principal, lr *listReq, key string,
	fetch func(ctx context.Context, q vault.Query) ([]T, int, error),
	render func(l *lookups, v T, names []string) (object, error)) {
	if lr.err != nil {
		a.writeError(w, r, lr.err)
		return
	}
	var items []object
	total := 0
	var err error
	if !lr.never {
		var vs []T
		vs, total, err = fetch(r.Context(), lr.q)
		if lr.pastEnd {
			vs = nil
		}
		l := newLookups(a, p)
		names := expandNames(r)
		for _, v := range vs {
			if err != nil {
				break
			}
			var o object
			o, err = render(l, v, names)
			items = append(items, o)
		}
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeList(w, key, items, a.meta(r, lr, total))
}
