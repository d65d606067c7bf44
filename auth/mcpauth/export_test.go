package mcpauth

import "context"

// PruneNow runs one pass of Start's background prune, for the tests of the
// external package, which cannot otherwise tell when a pass has ended.
func PruneNow(ctx context.Context, s *Server) { s.prune(ctx) }
