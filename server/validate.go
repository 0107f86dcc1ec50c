package server

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// invalid returns err as an InvalidArgument status. A
// *classifier.InvalidError becomes a google.rpc.BadRequest with one
// FieldViolation per bad field, and a message listing them; any other error
// is the message alone.
func invalid(err error) *status.Status {
	var ie *classifier.InvalidError
	if !errors.As(err, &ie) {
		return status.New(codes.InvalidArgument, err.Error())
	}
	return invalidWithMessage("invalid request: "+ie.List(), ie)
}

// invalidWithMessage returns InvalidArgument with message msg and the
// violations of ie as a google.rpc.BadRequest.
func invalidWithMessage(msg string, ie *classifier.InvalidError) *status.Status {
	st := status.New(codes.InvalidArgument, msg)
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, len(ie.Violations))}
	for i, v := range ie.Violations {
		br.FieldViolations[i] = &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description}
	}
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st
}

// invalidField returns InvalidArgument naming field and what is wrong with
// it.
func invalidField(field, format string, args ...any) error {
	var v classifier.InvalidError
	v.Add(field, format, args...)
	return invalid(&v).Err()
}

// article converts an API article; a nil one is the zero article, which
// CheckArticle refuses for its empty text.
func article(a *artclassv1.Article) classifier.Article {
	return classifier.Article{ID: a.GetId(), Title: a.GetTitle(), Text: a.GetText()}
}

// filter converts an API filter; nil keeps every topic.
func filter(f *artclassv1.Filter) classifier.Filter {
	return classifier.Filter{TopK: int(f.GetTopK()), MinConfidence: f.GetMinConfidence()}
}

// checkRequest checks the article and filter of a Classify or
// ClassifyStream request, naming fields from the request ("article.text",
// "filter.top_k").
func (s *Server) checkRequest(a classifier.Article, f classifier.Filter) error {
	var v classifier.InvalidError
	v.Merge("article.", s.cfg.Limits.CheckArticle(a))
	v.Merge("filter.", f.Validate())
	return v.Err()
}

// itemError is the error of one article of a batch or a stream.
func itemError(st *status.Status) *artclassv1.ArticleResult_Error {
	return &artclassv1.ArticleResult_Error{Error: st.Proto()}
}

// checkBatchSize records a batch of n articles that is empty or over
// limit.
func checkBatchSize(v *classifier.InvalidError, n, limit int) {
	switch {
	case n == 0:
		v.Add("articles", "is empty; send at least 1 article")
	case n > limit:
		v.Add("articles", "holds %d articles; the limit is %d", n, limit)
	}
}
