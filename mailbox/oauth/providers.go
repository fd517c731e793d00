package oauth

import (
	"fmt"
	"net/url"
)

// The providers ticketd knows the endpoints and mail scopes of.
const (
	Google    = "google"
	Microsoft = "microsoft"
	Custom    = "custom" // endpoints and scopes from the configuration
)

// Endpoints are where a provider's tokens come from, and the scopes mail
// needs.
type Endpoints struct {
	TokenURL, DeviceURL string
	Scopes              []string
}

// Preset returns the endpoints and mail scopes of provider for flow;
// tenant is Microsoft's directory (a tenant ID or domain).
func Preset(provider, tenant, flow string) (Endpoints, error) {
	switch provider {
	case Google:
		if flow != FlowDevice {
			return Endpoints{}, fmt.Errorf("google offers IMAP and SMTP access to a mailbox by a person's consent (flow %s); app-only access needs a service account with domain-wide delegation, which ticketd does not do", FlowDevice)
		}
		return Endpoints{TokenURL: "https://oauth2.googleapis.com/token", DeviceURL: "https://oauth2.googleapis.com/device/code",
			Scopes: []string{"https://mail.google.com/"}}, nil
	case Microsoft:
		if tenant == "" {
			return Endpoints{}, fmt.Errorf("microsoft needs the tenant (the directory's ID or domain, e.g. contoso.onmicrosoft.com)")
		}
		base := "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/"
		e := Endpoints{TokenURL: base + "token", DeviceURL: base + "devicecode",
			Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"}}
		if flow == FlowClientCredentials {
			// App-only: the permissions granted to the app (IMAP.AccessAsApp,
			// SMTP.SendAsApp), asked for as the resource's .default scope.
			e.DeviceURL, e.Scopes = "", []string{"https://outlook.office365.com/.default"}
		}
		return e, nil
	case Custom:
		return Endpoints{}, nil
	}
	return Endpoints{}, fmt.Errorf("unknown provider %q (want %s, %s or %s)", provider, Google, Microsoft, Custom)
}
