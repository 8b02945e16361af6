package chaos

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/payvault/payvault/internal/vault"
)

// reply is an HTTP answer that arrived in full.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r reply) str(k string) string { s, _ := r.body[k].(string); return s }

func (r reply) num(k string) int64 { n, _ := r.body[k].(float64); return int64(n) }

// obj returns a nested object.
func (r reply) obj(k string) reply {
	m, _ := r.body[k].(map[string]any)
	return reply{status: r.status, body: m}
}

// errCode is the Paysafe error code.
func (r reply) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (r reply) ok() bool { return r.status >= 200 && r.status < 300 }

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.raw)) }

// client talks to one node as one merchant. A transport error means the outcome is unknown.
type client struct {
	hc    *http.Client
	url   string
	creds *vault.MerchantCredentials
}

// newHTTPClient returns a client whose connections die with the node.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// do sends one request. headers are name, value pairs.
func (c *client) do(ctx context.Context, method, path, body string, headers ...string) (reply, error) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: %d, body is not a JSON object: %.200s", method, path, r.status, raw)
		}
	}
	return r, nil
}

// paysafe calls the Paysafe API with the merchant's server key.
func (c *client) paysafe(ctx context.Context, method, path, body string, headers ...string) (reply, error) {
	p := c.creds.Paysafe
	return c.do(ctx, method, path, body, append([]string{"Authorization", basicAuth(p.APIKeyID, p.APIKeySecret)}, headers...)...)
}

// paysafeSUT calls the Paysafe API with the merchant's single-use-token key.
func (c *client) paysafeSUT(ctx context.Context, method, path, body string) (reply, error) {
	p := c.creds.Paysafe
	return c.do(ctx, method, path, body, "Authorization", basicAuth(p.SingleUseKeyID, p.SingleUseKeySecret))
}

// fortis calls the Fortis API as the merchant's user.
func (c *client) fortis(ctx context.Context, method, path, body string, headers ...string) (reply, error) {
	f := c.creds.Fortis
	return c.do(ctx, method, path, body, append([]string{"developer-id", f.DeveloperID, "user-id", f.UserID, "user-api-key", f.UserAPIKey}, headers...)...)
}

// txn is a card payments path in the merchant's account.
func (c *client) txn(path string) string {
	return "/cardpayments/v1/accounts/" + c.creds.Paysafe.AccountNumber + "/" + path
}

// newPAN returns a random Luhn-valid 16-digit Visa number.
func newPAN(rng *rand.Rand) string {
	d := make([]byte, 16)
	d[0] = 4
	for i := 1; i < 15; i++ {
		d[i] = byte(rng.IntN(10))
	}
	sum := 0
	for i := 14; i >= 0; i-- {
		v := int(d[i])
		if (14-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte((10 - sum%10) % 10)
	out := make([]byte, 16)
	for i, v := range d {
		out[i] = '0' + v
	}
	return string(out)
}

// magicAmounts are the Paysafe sandbox's trigger amounts (§2.18), avoided by the clients.
func safeAmount(rng *rand.Rand) int64 { return 1000 + rng.Int64N(99000) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// dollars formats cents as a Fortis amount.
func dollars(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// fortisAmount returns a random amount in cents clear of the Fortis sandbox triggers (5.00–8.99, 2.01).
func fortisAmount(rng *rand.Rand) int64 { return 1000 + rng.Int64N(99000) }
