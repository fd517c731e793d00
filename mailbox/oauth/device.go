package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// DeviceCode is what a person needs to approve a device login: the page
// to open and the code to enter there.
type DeviceCode struct {
	URL         string
	URLComplete string // the page with the code filled in, if the provider gives one
	UserCode    string
	Expires     time.Time
}

// Login runs the device authorization grant (RFC 8628) for cred, which
// must use FlowDevice: it asks for a device code, calls show with it, and
// waits until the person approved, refused, or the code expired (or ctx
// is done). It returns the new state, for the caller to store.
func Login(ctx context.Context, cred Credential, show func(DeviceCode)) (State, error) {
	if cred.Flow != FlowDevice {
		return State{}, fmt.Errorf("oauth credential %s: flow %s has no login (it needs no person)", cred.Name, cred.Flow)
	}
	if cred.HTTPClient == nil {
		cred.HTTPClient = defaultClient()
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, cred.HTTPClient)
	conf := cred.config()
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		_, reason := classify(err)
		return State{}, fmt.Errorf("oauth credential %s: asking for a device code: %s", cred.Name, reason)
	}
	show(DeviceCode{URL: da.VerificationURI, URLComplete: da.VerificationURIComplete, UserCode: da.UserCode, Expires: da.Expiry})
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return State{}, fmt.Errorf("oauth credential %s: no approval in time: %w", cred.Name, err)
		}
		_, reason := classify(err)
		return State{}, fmt.Errorf("oauth credential %s: the login was not approved: %s", cred.Name, reason)
	}
	if tok.RefreshToken == "" {
		return State{}, fmt.Errorf("oauth credential %s: the provider gave no refresh token (for Microsoft, add the offline_access scope)", cred.Name)
	}
	now := time.Now()
	return State{Flow: FlowDevice, RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken, Expiry: tok.Expiry,
		LoggedIn: now, RefreshSince: now, Refreshed: now}, nil
}
