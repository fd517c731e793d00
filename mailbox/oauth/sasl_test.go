package oauth

import (
	"bytes"
	"testing"
)

// The exact bytes of XOAUTH2's initial response, as Google and Microsoft
// document them, and the empty answer to the server's error challenge.
func TestXOAuth2WireFormat(t *testing.T) {
	c := NewXOAuth2Client("support@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" {
		t.Fatalf("Start: %q %v", mech, err)
	}
	want := "user=support@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
	if string(ir) != want {
		t.Fatalf("initial response %q, want %q", ir, want)
	}
	resp, err := c.Next([]byte(`{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}`))
	if err != nil || resp == nil || len(resp) != 0 {
		t.Fatalf("Next: %q %v; want an empty response", resp, err)
	}
	if r := c.(*xoauth2Client).Refusal; r == nil || r.Status != "401" || r.Scope != "https://mail.google.com/" {
		t.Fatalf("refusal %+v", r)
	}
}

// OAUTHBEARER (RFC 7628 section 3.1): the GS2 header with the authzid,
// then the kvpairs.
func TestOAuthBearerWireFormat(t *testing.T) {
	c, err := NewClient(OAuthBearer, "support@example.com", "tok")
	if err != nil {
		t.Fatal(err)
	}
	mech, ir, _ := c.Start()
	if mech != "OAUTHBEARER" || !bytes.Equal(ir, []byte("n,a=support@example.com,\x01auth=Bearer tok\x01\x01")) {
		t.Fatalf("%s %q", mech, ir)
	}
	// Section 3.2.3: the error challenge is answered with a single %x01.
	resp, err := c.Next([]byte(`{"status":"invalid_token","scope":"mail"}`))
	if err != nil || !bytes.Equal(resp, []byte{1}) || c.(*oauthBearerClient).Refusal.Status != "invalid_token" {
		t.Fatalf("Next: %q %v %+v", resp, err, c.(*oauthBearerClient).Refusal)
	}
	if _, err := NewClient("CRAM-MD5", "u", "t"); err == nil {
		t.Fatal("an unknown mechanism was accepted")
	}
}

// The presets: Google's device flow only, Microsoft's by tenant, with
// app-only scopes for client credentials.
func TestPresets(t *testing.T) {
	g, err := Preset(Google, "", FlowDevice)
	if err != nil || g.TokenURL != "https://oauth2.googleapis.com/token" || g.Scopes[0] != "https://mail.google.com/" {
		t.Fatalf("google: %+v %v", g, err)
	}
	if _, err := Preset(Google, "", FlowClientCredentials); err == nil {
		t.Error("google with client credentials")
	}
	m, err := Preset(Microsoft, "contoso.onmicrosoft.com", FlowDevice)
	if err != nil || m.DeviceURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode" || len(m.Scopes) != 3 {
		t.Fatalf("microsoft: %+v %v", m, err)
	}
	a, _ := Preset(Microsoft, "t", FlowClientCredentials)
	if a.DeviceURL != "" || len(a.Scopes) != 1 || a.Scopes[0] != "https://outlook.office365.com/.default" {
		t.Fatalf("microsoft app-only: %+v", a)
	}
	if _, err := Preset(Microsoft, "", FlowDevice); err == nil {
		t.Error("microsoft without a tenant")
	}
	if _, err := Preset("yahoo", "", FlowDevice); err == nil {
		t.Error("an unknown provider")
	}
}
