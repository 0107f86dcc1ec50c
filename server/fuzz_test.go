package server

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	s := &Server{cfg: Config{MaxTextBytes: limit}}
	f.Fuzz(func(t *testing.T, title, text string, topK int32, minConfidence float64) {
		var v violations
		s.checkArticle(&v, "", title, text)
		checkFilter(&v, topK, minConfidence)
		want := map[string]bool{
			"title":          len(title) > limit || !utf8.ValidString(title),
			"text":           len(text) > limit || !utf8.ValidString(text) || strings.TrimSpace(text) == "",
			"top_k":          topK < 0,
			"min_confidence": !(minConfidence >= 0 && minConfidence <= 1),
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
		err := v.err()
		if len(v) == 0 {
			if err != nil {
				t.Fatalf("no violations but error %v", err)
			}
			return
		}
		st := status.Convert(err)
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
