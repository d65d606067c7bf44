// Package e2e holds the end-to-end tests of mailcal: they build the real
// binary (cmd/mailcal) once, with -race when the tests run with it, and drive
// it as a subprocess, over stdio and HTTP, with real MCP clients (mcp-go's
// client, the official Go SDK, the MCP Inspector CLI) and the MCP conformance
// suite. Every test gets its own file keyring in a temporary folder and a
// clean environment, so nothing here touches the machine's real keyring.
//
// The npm clients come from `make test-deps` (testdata/npm). Without them the
// tests that need them are skipped, unless MAILCAL_E2E_REQUIRE=1 (set by
// `make test`), which turns the skip into a failure. With -short, every test
// that needs the binary is skipped.
//
// The package has no code but its tests. The helpers are provider-neutral:
// the binary (main_test.go), an isolated keyring (keyring_test.go),
// subprocesses and their logs (process_test.go, logsink_test.go), a serving
// HTTP server (httpserver_test.go), MCP clients over stdio and HTTP
// (clients_test.go), the wire format every client must see (wire_test.go),
// the npm clients (npm_test.go, node_test.go), the leak audit
// (leaks_test.go) and the harness that ties a keyring, the subprocesses and
// the leak audit together for a fixture (harness_test.go). A provider's fake
// comes in through its fixture: googleFixture (google_fixture_test.go, and
// google_tools_fixture_test.go for the Gmail and Calendar fixtures) embeds
// the harness next to googletest and holds what is Google's own: its scopes,
// its authorization URLs and tokens, connecting an account through it. A
// second provider's fixture would stand beside it the same way.
package e2e
