// Package httpx holds the HTTP plumbing every API package shares: a router that ignores
// trailing slashes and lets each API answer unknown routes and wrong methods in its own
// envelope, and middleware for body limits, request ids, logging, metrics and panics.
package httpx

import (
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Router matches method + path patterns such as "/v2/accountvaults/{id}/bininfo". A
// trailing slash on the request path is ignored. Matched {name} segments are available
// through r.PathValue, and the pattern through RoutePattern.
type Router struct {
	routes []*route
	// NotFound answers a path no pattern matches.
	NotFound http.HandlerFunc
	// MethodNotAllowed answers a matching path with a method it lacks; allow is the Allow list.
	MethodNotAllowed func(w http.ResponseWriter, r *http.Request, allow []string)
	// Unparsed answers the stand-in for a request net/http could not parse (see
	// UnparsedListener) with u.Status in the API's envelope.
	Unparsed func(w http.ResponseWriter, r *http.Request, u *Unparsed)
	// AutoOptions, when set, answers OPTIONS on any known path with 200, the Allow header and no body.
	AutoOptions bool
}

type route struct {
	pattern  string
	segs     []string
	handlers map[string]http.HandlerFunc
	order    []string
}

// Handle registers h for method and pattern.
func (rt *Router) Handle(method, pattern string, h http.HandlerFunc) {
	for _, r := range rt.routes {
		if r.pattern == pattern {
			if _, dup := r.handlers[method]; !dup {
				r.order = append(r.order, method)
			}
			r.handlers[method] = h
			return
		}
	}
	rt.routes = append(rt.routes, &route{
		pattern:  pattern,
		segs:     split(pattern),
		handlers: map[string]http.HandlerFunc{method: h},
		order:    []string{method},
	})
}

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match reports whether path segments fit the route, and the captured values.
func (r *route) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(r.segs) {
		return nil, false
	}
	var vals map[string]string
	for i, s := range r.segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if vals == nil {
				vals = map[string]string{}
			}
			vals[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return vals, true
}

// literalCount ranks routes: more literal segments win over captures.
func (r *route) literalCount() int {
	n := 0
	for _, s := range r.segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// pathSegments splits the request path into its segments, each unescaped on its own, so
// that an escaped slash (%2F) stays inside its segment instead of splitting it: an id "a/b"
// is one unknown id, not two segments, and "/things/%2F" is not "/things/".
func pathSegments(u *url.URL) []string {
	segs := split(u.EscapedPath())
	for i, s := range segs {
		if d, err := url.PathUnescape(s); err == nil {
			segs[i] = d
		}
	}
	return segs
}

// cleanPath reports whether an escaped path is clean: one leading slash, no empty segment
// but a trailing one, no "." or ".." segment. Such segments name nothing here; a path that
// holds one matches no route, as ServeMux would otherwise redirect it elsewhere.
func cleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// ServeHTTP dispatches the request.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u := UnparsedFrom(r.Context()); u != nil {
		rt.unparsed(w, r, u)
		return
	}
	if !cleanPath(r.URL.EscapedPath()) {
		rt.notFound(w, r)
		return
	}
	segs := pathSegments(r.URL)
	var best *route
	var bestVals map[string]string
	for _, rr := range rt.routes {
		vals, ok := rr.match(segs)
		if !ok {
			continue
		}
		if best == nil || rr.literalCount() > best.literalCount() {
			best, bestVals = rr, vals
		}
	}
	if best == nil {
		rt.notFound(w, r)
		return
	}
	for k, v := range bestVals {
		r.SetPathValue(k, v)
	}
	setPattern(r, best.pattern)
	h, ok := best.handlers[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = best.handlers[http.MethodGet]
	}
	if !ok {
		allow := append([]string(nil), best.order...)
		if r.Method == http.MethodOptions && rt.AutoOptions {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			w.WriteHeader(http.StatusOK)
			return
		}
		if rt.MethodNotAllowed != nil {
			rt.MethodNotAllowed(w, r, allow)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h(w, r)
}

// notFound answers a path no pattern matches.
func (rt *Router) notFound(w http.ResponseWriter, r *http.Request) {
	if rt.NotFound != nil {
		rt.NotFound(w, r)
		return
	}
	http.NotFound(w, r)
}

// unparsed answers the stand-in for a request net/http could not parse.
func (rt *Router) unparsed(w http.ResponseWriter, r *http.Request, u *Unparsed) {
	if rt.Unparsed != nil {
		rt.Unparsed(w, r, u)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(u.Status)
	w.Write([]byte(`{"error":"bad_request"}`))
}

// Patterns returns the registered patterns with their methods, sorted (for docs and tests).
func (rt *Router) Patterns() map[string][]string {
	out := map[string][]string{}
	for _, r := range rt.routes {
		out[r.pattern] = append([]string(nil), r.order...)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}
