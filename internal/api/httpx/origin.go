package httpx

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/payvault/payvault/internal/vault"
)

// SameOrigin reports whether a browser's Origin header names payvault itself: the configured
// public base URL's origin, or else the request's own host (https only when payvault
// terminated TLS itself; either scheme otherwise, since a TLS-terminating proxy hides it).
// Hosts compare without the scheme's default port, which a browser's Origin never carries.
// Browsers set Origin themselves and pages cannot forge it, so a same-origin Origin means the
// request comes from a page payvault served, such as the hosted payment fields.
func SameOrigin(r *http.Request, public, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || o.User != nil || (o.Path != "" && o.Path != "/") {
		return false
	}
	scheme := strings.ToLower(o.Scheme)
	host := withoutDefaultPort(scheme, o.Host)
	if public != "" {
		p, err := url.Parse(public)
		if err != nil {
			return false
		}
		return strings.EqualFold(p.Scheme, scheme) && strings.EqualFold(withoutDefaultPort(scheme, p.Host), host)
	}
	if r.TLS != nil && scheme != "https" {
		return false
	}
	return r.Host != "" && strings.EqualFold(withoutDefaultPort(scheme, r.Host), host)
}

// withoutDefaultPort returns host without its port when that is scheme's default (443 for
// https, 80 for http).
func withoutDefaultPort(scheme, host string) string {
	h, p, err := net.SplitHostPort(host)
	if err != nil || !(scheme == "https" && p == "443" || scheme == "http" && p == "80") {
		return host
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]" // IPv6
	}
	return h
}

// ExposeError lets a browser page read an error answered before its request named a
// merchant, and so before the merchant's allowed origins could be checked: bad credentials, a
// rate limit. It echoes a well-formed Origin in Access-Control-Allow-Origin, as the token
// endpoints' preflights do for any origin; such an answer holds nothing but the error, and
// without it the page would see a network failure where the API says 401 or 429.
func ExposeError(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	w.Header().Add("Vary", "Origin")
	if _, ok := vault.NormalizeOrigin(origin); ok {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
}
