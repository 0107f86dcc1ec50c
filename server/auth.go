package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// authenticateAdmin admits a call whose `authorization` metadata is
// `Bearer TOKEN` with the configured admin token. The tokens are compared
// as SHA-256 digests in constant time, so neither their content nor their
// length shows in the time an answer takes.
func (s *Server) authenticateAdmin(ctx context.Context) (context.Context, error) {
	if s.cfg.AdminToken == "" {
		return nil, status.Error(codes.PermissionDenied,
			"Train, ListModels and ActivateModel are disabled because the server has no admin token; start artclassd with --admin-token-file FILE (or ARTCLASS_ADMIN_TOKEN_FILE=FILE) to enable them")
	}
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "this call needs the admin token as `authorization: Bearer TOKEN` metadata")
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.cfg.AdminToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return nil, status.Error(codes.Unauthenticated, "the admin token is not valid")
	}
	return ctx, nil
}
