package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// violations collects what is wrong with a request, one FieldViolation per
// bad field, each naming the field and the rule or limit it broke.
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// err returns InvalidArgument with v as a google.rpc.BadRequest, or nil if
// v is empty.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	return v.status(v.message())
}

// status returns InvalidArgument with message msg and v as a
// google.rpc.BadRequest.
func (v violations) status(msg string) error {
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v}); err == nil {
		st = d
	}
	return st.Err()
}

// itemError returns v as the error of one article of a batch or stream.
func (v violations) itemError() *artclassv1.ItemError {
	e := &artclassv1.ItemError{Code: int32(codes.InvalidArgument), Message: v.message()}
	for _, fv := range v {
		e.FieldViolations = append(e.FieldViolations, &artclassv1.FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
	}
	return e
}

func (v violations) message() string {
	parts := make([]string, len(v))
	for i, fv := range v {
		parts[i] = fv.GetField() + ": " + fv.GetDescription()
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// checkArticle checks an article's title and text against the server's
// limits; prefix is the path of the message that holds them ("" or
// "articles[3].").
func (s *Server) checkArticle(v *violations, prefix, title, text string) {
	limit := s.cfg.MaxTextBytes
	switch {
	case len(title) > limit:
		v.add(prefix+"title", "is %d bytes; the limit is %d bytes", len(title), limit)
	case !utf8.ValidString(title):
		v.add(prefix+"title", "is not valid UTF-8")
	}
	switch {
	case len(text) > limit:
		v.add(prefix+"text", "is %d bytes; the limit is %d bytes", len(text), limit)
	case !utf8.ValidString(text):
		v.add(prefix+"text", "is not valid UTF-8")
	case strings.TrimSpace(text) == "":
		v.add(prefix+"text", "is empty or only white space; it must hold the article's body")
	}
}

// checkFilter checks the top_k and min_confidence of a request.
func checkFilter(v *violations, topK int32, minConfidence float64) {
	if topK < 0 {
		v.add("top_k", "is %d; it must be 0 (every topic) or more", topK)
	}
	// Written so that NaN fails too.
	if !(minConfidence >= 0 && minConfidence <= 1) {
		v.add("min_confidence", "is %v; it must be in [0, 1]", minConfidence)
	}
}

// maxStreamIDBytes bounds the id a ClassifyStream client attaches to an
// article; the server echoes it, so it must stay small and printable.
const maxStreamIDBytes = 256

func validStreamID(id string) bool {
	return len(id) <= maxStreamIDBytes && utf8.ValidString(id)
}
