package httpx

import (
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin reports whether a browser's Origin header names payvault itself: the configured
// public base URL's origin, or else the request's own host (either scheme, since a
// TLS-terminating proxy hides the scheme). Browsers set Origin themselves and pages cannot
// forge it, so a same-origin Origin means the request comes from a page payvault served, such
// as the hosted payment fields.
func SameOrigin(r *http.Request, public, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || o.User != nil || (o.Path != "" && o.Path != "/") {
		return false
	}
	if public != "" {
		p, err := url.Parse(public)
		if err != nil {
			return false
		}
		return strings.EqualFold(p.Scheme, o.Scheme) && strings.EqualFold(p.Host, o.Host)
	}
	return r.Host != "" && strings.EqualFold(r.Host, o.Host)
}
