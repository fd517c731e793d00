// Package oauthtest is an OAuth 2.0 authorization server for tests, on
// 127.0.0.1: a token endpoint with the refresh_token, client_credentials
// and device_code grants (RFC 6749, RFC 8628), a device authorization
// endpoint, and token introspection (RFC 7662) for a mail server such as
// Dovecot's oauth2 passdb to check the access tokens it is given.
//
// The test plays the user: [Server.Approve] completes a device login as
// an account, [Server.Revoke] revokes an account's refresh tokens (as a
// user withdrawing consent), [Server.Expire] expires every access token.
package oauthtest
