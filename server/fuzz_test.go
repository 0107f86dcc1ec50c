package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/artclass/artclass/classifier"
	artclassv1 "github.com/artclass/artclass/proto/artclass/v1"
)

// FuzzValidateRequest checks request validation on any title, text, top_k
// and min_confidence: no panic, a field violation exactly when a rule is
// broken, and an InvalidArgument status carrying them all.
func FuzzValidateRequest(f *testing.F) {
	f.Add("Title", "Troops advanced.", int32(0), 0.0)
	f.Add("", "   \n\t", int32(-1), -1.0)
	f.Add("\xff", "bad \xc3\x28", int32(3), 2.0)
	f.Add("t", strings.Repeat("x", 65), int32(1), 0.5)
	const limit = 64
	s := &Server{cfg: Config{Limits: classifier.Limits{MaxTextBytes: limit}}}
	f.Fuzz(func(t *testing.T, title, text string, topK int32, minConfidence float64) {
		err := s.checkRequest(
			article(&artclassv1.Article{Title: title, Text: text}),
			filter(&artclassv1.Filter{TopK: topK, MinConfidence: minConfidence}))
		want := map[string]bool{
			"article.title":         len(title) > limit || !utf8.ValidString(title),
			"article.text":          len(text) > limit || !utf8.ValidString(text) || strings.TrimSpace(text) == "",
			"filter.top_k":          topK < 0,
			"filter.min_confidence": !(minConfidence >= 0 && minConfidence <= 1),
		}
		var v []*errdetails.BadRequest_FieldViolation
		if err != nil {
			for _, d := range invalid(err).Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					v = append(v, br.GetFieldViolations()...)
				}
			}
		}
		got := map[string]bool{}
		for _, fv := range v {
			if got[fv.GetField()] {
				t.Fatalf("field %s reported twice", fv.GetField())
			}
			got[fv.GetField()] = true
			if fv.GetDescription() == "" {
				t.Fatalf("field %s has no description", fv.GetField())
			}
		}
		for field, bad := range want {
			if got[field] != bad {
				t.Fatalf("field %s: violation %v, want %v", field, got[field], bad)
			}
		}
		if len(v) == 0 {
			if err != nil {
				t.Fatalf("no violations but error %v", err)
			}
			return
		}
		st := invalid(err)
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("code %v, want InvalidArgument", st.Code())
		}
		details := st.Details()
		if len(details) != 1 {
			t.Fatalf("%d details, want one BadRequest", len(details))
		}
		if br, ok := details[0].(*errdetails.BadRequest); !ok || len(br.GetFieldViolations()) != len(v) {
			t.Fatalf("details %v, want a BadRequest with %d violations", details, len(v))
		}
	})
}
