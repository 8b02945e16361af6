package fortis

import (
	"net/http"
	"net/url"
	"strings"
)

// queryParams is a request's query string read the way the vendor's PHP service reads
// $_GET: a parameter named more than once keeps its last value, and a name with brackets
// (last_four[]=1, page[size]=5) makes an array under the name before the first "[" (which
// a later plain last_four=1 replaces again, and which replaces an earlier plain one). Names
// are kept in the order of their first appearance, as in a PHP array.
type queryParams struct {
	names []string
	vals  map[string]queryParam
}

// queryParam is one parameter's value: a string, or an array (a bracketed name), whose
// items payvault never reads.
type queryParam struct {
	v     string
	array bool
}

// query returns the request's query parameters as PHP reads them.
func query(r *http.Request) queryParams { return parseQuery(r.URL.RawQuery) }

// parseQuery reads a raw query string as PHP's $_GET does. Segments are separated by "&"
// alone; a segment whose name or value is not valid percent-encoding is dropped, as Go's
// url.ParseQuery drops it. A "[" with no "]" after it is part of a plain name, as PHP turns
// it into "_" (a[b=1 is a_b).
func parseQuery(raw string) queryParams {
	q := queryParams{vals: map[string]queryParam{}}
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(seg, "=")
		name, err1 := url.QueryUnescape(rawName)
		value, err2 := url.QueryUnescape(rawValue)
		if err1 != nil || err2 != nil {
			continue
		}
		array := false
		if i := strings.IndexByte(name, '['); i >= 0 {
			if strings.IndexByte(name[i+1:], ']') >= 0 {
				name, array = name[:i], true
			} else {
				name = name[:i] + "_" + name[i+1:]
			}
		}
		if name == "" {
			continue
		}
		if _, seen := q.vals[name]; !seen {
			q.names = append(q.names, name)
		}
		if array {
			value = ""
		}
		q.vals[name] = queryParam{v: value, array: array}
	}
	return q
}

// get returns the parameter's value: its last one, and "" when it is absent or an array.
func (q queryParams) get(name string) string { return q.vals[name].v }

// array reports whether the parameter is an array (last sent with brackets).
func (q queryParams) array(name string) bool { return q.vals[name].array }
