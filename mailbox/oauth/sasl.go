package oauth

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/emersion/go-sasl"
)

// The SASL mechanisms that carry an OAuth 2.0 access token.
const (
	// XOAuth2 is Google's and Microsoft's mechanism (not an RFC; see
	// developers.google.com/gmail/imap/xoauth2-protocol).
	XOAuth2 = "XOAUTH2"
	// OAuthBearer is RFC 7628's.
	OAuthBearer = sasl.OAuthBearer
)

// The configuration's auth values that sign in with an access token.
const (
	AuthXOAuth2     = "xoauth2"
	AuthOAuthBearer = "oauthbearer"
)

// Mechanism is the SASL mechanism of the auth value auth ("" when auth
// signs in with no token).
func Mechanism(auth string) string {
	switch auth {
	case AuthXOAuth2:
		return XOAuth2
	case AuthOAuthBearer:
		return OAuthBearer
	}
	return ""
}

// Tokens gives the access tokens of a credential (a *Source): Token one
// that is valid now; Refuse says a server refused it, so that the next
// Token gets a new one.
type Tokens interface {
	Token(ctx context.Context) (string, error)
	Refuse(token string)
}

// xoauth2Client is the client side of XOAUTH2. Its initial response is
//
//	"user=" user "\x01" "auth=Bearer " token "\x01\x01"
//
// A server that refuses the token sends one challenge, a JSON error
// ({"status":"401","schemes":"Bearer","scope":"..."}), which the client
// answers with an empty response; the server then fails the exchange.
type xoauth2Client struct {
	user, token string
	// Refusal is the server's JSON error, once it sent one.
	Refusal *ServerError
}

// ServerError is what a server said when it refused a token over XOAUTH2
// or OAUTHBEARER.
type ServerError struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("the server refused the access token (status %s)", e.Status)
}

// NewXOAuth2Client returns a SASL client for XOAUTH2.
func NewXOAuth2Client(user, token string) sasl.Client {
	return &xoauth2Client{user: user, token: token}
}

func (c *xoauth2Client) Start() (mech string, ir []byte, err error) {
	return XOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	var e ServerError
	if json.Unmarshal(challenge, &e) == nil {
		c.Refusal = &e
	}
	return []byte{}, nil // the empty response the protocol asks for
}

// oauthBearerClient is the client side of OAUTHBEARER (RFC 7628). Its
// initial response is the GS2 header with the user as authzid, then the
// bearer token:
//
//	"n,a=" user "," "\x01" "auth=Bearer " token "\x01\x01"
//
// A server that refuses the token sends a JSON error as a challenge; the
// client answers it with a single %x01, as section 3.2.3 requires, and
// the server then fails the exchange. (go-sasl's client cancels the
// exchange instead, which some servers never answer.)
type oauthBearerClient struct {
	user, token string
	Refusal     *ServerError
}

func (c *oauthBearerClient) Start() (mech string, ir []byte, err error) {
	return OAuthBearer, []byte("n,a=" + c.user + ",\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	var e ServerError
	if json.Unmarshal(challenge, &e) == nil {
		c.Refusal = &e
	}
	return []byte{1}, nil
}

// NewClient returns the SASL client of mech (XOAuth2 or OAuthBearer) for
// user with an access token.
func NewClient(mech, user, token string) (sasl.Client, error) {
	switch mech {
	case XOAuth2:
		return NewXOAuth2Client(user, token), nil
	case OAuthBearer:
		return &oauthBearerClient{user: user, token: token}, nil
	}
	return nil, fmt.Errorf("oauth: unknown SASL mechanism %q (want %s or %s)", mech, XOAuth2, OAuthBearer)
}
