// Package oauth signs ticketd in to mailboxes that take no password: it
// gets OAuth 2.0 access tokens and hands them to IMAP and SMTP over the
// XOAUTH2 and OAUTHBEARER (RFC 7628) SASL mechanisms.
//
// # Basics
//
//   - A [Credential] is one OAuth client and its flow: the device
//     authorization grant (RFC 8628; a person approves once with
//     [Login], e.g. `ticketd oauth login`) or client credentials
//     (app-only access, Microsoft 365). [Preset] knows Google's and
//     Microsoft's endpoints and mail scopes.
//   - A [Source] gives a credential's access tokens: it refreshes one five
//     minutes (or a quarter of its lifetime) before it expires, and again
//     when a server refused it ([Source.Refuse], once per refusal); it
//     keeps the refresh token, rotated when the provider sends a new one,
//     in a [Store] (the database). A refusal no retry mends (invalid_grant:
//     the refresh token was revoked or expired; invalid_client: a wrong or
//     expired secret) breaks the credential: [Source.Token] then returns a
//     [*BrokenError] without asking again, and [Source.Status] says why,
//     until a new login.
//   - [NewClient] is the SASL client of either mechanism for a token,
//     both written here with tests of their exact bytes (go-sasl's
//     OAUTHBEARER client cancels the exchange on a refusal instead of
//     answering %x01 as RFC 7628 section 3.2.3 requires, which leaves a
//     server waiting).
//
// # Caveats
//
// Tokens are never logged, and [Source.Status] leaves them out. Package
// oauthtest is an authorization server for the tests.
package oauth
