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
// The package has no code but its tests.
package e2e
