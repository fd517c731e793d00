package devserver

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"
)

// The OAuth 2.0 SASL mechanisms offered when Options.Bearer is set.
const (
	mechXOAuth2     = "XOAUTH2"
	mechOAuthBearer = sasl.OAuthBearer
)

// errBearer is a refused access token.
var errBearer = errors.New("invalid access token")

// bearerLogin checks an access token for user with the Bearer option and
// returns the user's password for the in-memory login.
func (s *Server) bearerLogin(user, token string) (*user, error) {
	u, err := s.lookup(user)
	if err != nil || s.bearer == nil || !s.bearer(u.login, token) {
		return nil, errBearer
	}
	return u, nil
}

// xoauth2Server is the server side of XOAUTH2: a refused token gets the
// JSON error challenge, and the client's empty answer ends the exchange.
type xoauth2Server struct {
	check   func(user, token string) error
	refused error
}

func (x *xoauth2Server) Next(response []byte) (challenge []byte, done bool, err error) {
	if x.refused != nil {
		return nil, true, x.refused
	}
	if response == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	var user, token string
	for _, kv := range bytes.Split(response, []byte{1}) {
		switch k, v, _ := strings.Cut(string(kv), "="); k {
		case "user":
			user = v
		case "auth":
			token, _ = strings.CutPrefix(v, "Bearer ")
		}
	}
	if err := x.check(user, token); err != nil {
		x.refused = err
		return []byte(`{"status":"401","schemes":"bearer","scope":"mail"}`), false, nil
	}
	return nil, true, nil
}

// saslSession offers XOAUTH2 and OAUTHBEARER besides PLAIN over IMAP.
type saslSession struct {
	imapserver.SessionIMAP4rev2 // the in-memory session, with all it offers
	s                           *Server
}

func (ss *saslSession) AuthenticateMechanisms() []string {
	return []string{sasl.Plain, mechXOAuth2, mechOAuthBearer}
}

func (ss *saslSession) Authenticate(mech string) (sasl.Server, error) {
	login := func(user, token string) error {
		u, err := ss.s.bearerLogin(user, token)
		if err != nil {
			return err
		}
		return ss.SessionIMAP4rev2.Login(u.login, u.password)
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, password string) error {
			if identity != "" && identity != user {
				return errors.New("identities not supported")
			}
			return ss.SessionIMAP4rev2.Login(user, password)
		}), nil
	case mechXOAuth2:
		return &xoauth2Server{check: login}, nil
	case mechOAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if login(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	}
	return nil, fmt.Errorf("unsupported mechanism %s", mech)
}

// failsAs makes every error of a SASL exchange err (SMTP wants 535, not
// the 454 go-smtp gives an error of its own).
type failsAs struct {
	sasl.Server
	err error
}

func (f failsAs) Next(response []byte) ([]byte, bool, error) {
	c, done, err := f.Server.Next(response)
	if err != nil {
		err = f.err
	}
	return c, done, err
}
