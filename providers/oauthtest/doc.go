// Package oauthtest is the authorization-server core of the provider fakes
// (one per provider): an OAuth 2.0 and OpenID Connect server on 127.0.0.1,
// in the spirit of net/http/httptest, that a provider's fake configures to
// answer as its provider documents.
//
// What it reproduces, whatever the provider:
//
//   - the authorization endpoint of RFC 6749's authorization-code grant,
//     with a person who is signed in and approves at once: consent
//     remembered per scope, prompt=none and prompt=consent, a denial
//     (DenyNext) and a partial grant on a granular consent screen
//     (GrantOnly); the client's registered redirect URIs, a loopback one
//     on any port as RFC 8252 (OAuth for native apps) allows;
//   - PKCE as RFC 7636 describes it, S256 (and plain, where the provider
//     takes it), required unless the provider makes it optional;
//   - single-use codes with a lifetime, whose replay kills the tokens the
//     code gave (RFC 6749 10.5), code and refresh-token exchange with
//     down-scoping, and refresh tokens that are kept, rotated, or rotated
//     and retired, with a lifetime or without, told apart when they fail
//     (unknown, revoked, retired, expired);
//   - client authentication by HTTP Basic or in the body (RFC 6749 2.3.1),
//     public clients, which may be refused a secret;
//   - tenants: endpoints under a {tenant} path segment that decides who may
//     sign in, codes redeemed only where they were issued;
//   - revocation as RFC 7009 describes it, client authentication included,
//     of one grant or of everything the user gave the client;
//   - bearer-token checks for the provider's API handlers (CheckAccess) and
//     RFC 6750's WWW-Authenticate challenges;
//   - ID tokens (unsigned, alg "none") with OpenID Connect Core's claims, an
//     identity endpoint (userinfo or a provider's own), and the discovery
//     document of OpenID Connect Discovery;
//   - what tests need around that: a clock that Advance moves on, injected
//     token-endpoint failures and delays, request counts, and Secrets, every
//     secret value the server issued or saw, for leak audits;
//   - APIControl, the same for a fake's own API handlers: requests counted
//     by path, concurrency, latency and injected failures.
//
// What differs between providers is in Config: the endpoints' paths, the
// error code, status and description of every Failure and the JSON that
// carries them, the error page, the scope names, whether the code's
// exchange answers a refresh token, refresh-token rotation, whether there is
// a revocation endpoint and what it revokes, the client authentication
// methods, the formats of codes and tokens, the ID token's extra claims and
// the identity endpoint's JSON. The zero Config follows the RFCs.
package oauthtest
