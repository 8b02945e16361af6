package app

import (
	"net/http"

	"github.com/payvault/payvault/internal/api/paysafe"
	"github.com/payvault/payvault/internal/hosted"
)

// hostedHandler serves payvault.js, the hosted payment fields and, with --demo, the sandbox
// demo checkout, whose authorizations run on the Paysafe sandbox trigger table.
func (m *Main) hostedHandler() http.Handler {
	cfg := hosted.Config{
		Vault: m.Vault, Demo: m.Config.Demo, PaymentsAPI: "paysafe", DeclineMessage: paysafe.CodeMessage,
		PublicBaseURL: m.Config.PublicBaseURL, TrustedUpstream: m.Config.TLSTerminatedUpstream, Logger: m.Config.Logger,
	}
	if m.Payments != nil {
		cfg.Payments = m.Payments
	}
	return hosted.New(cfg)
}
