package gateway

import (
	"bytes"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// jsonCodec is grpc-gateway's JSONPb with a faster reader for the body of a
// unary call. JSONPb reads every body through encoding/json into a
// json.RawMessage before protojson parses it again, which costs more than
// classifying the article; a unary body is one JSON value, so it is read
// whole and parsed once. Streaming bodies (several values one after
// another) keep JSONPb's reader.
type jsonCodec struct {
	*runtime.JSONPb
}

// NewDecoder returns a decoder for r, a request body.
func (c jsonCodec) NewDecoder(r io.Reader) runtime.Decoder {
	lb, ok := r.(*limitedBody)
	if !ok || lb.stream {
		return c.JSONPb.NewDecoder(r)
	}
	return runtime.DecoderFunc(func(v any) error {
		// Sized from Content-Length when it is given and within the limit,
		// so that the body is read in one piece instead of a growing one.
		hint := int64(bytes.MinRead)
		if lb.size > 0 && lb.size <= lb.bl.limit {
			hint += lb.size
		}
		buf := bytes.NewBuffer(make([]byte, 0, hint))
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		data := buf.Bytes()
		// An empty body is an empty request, as with JSONPb.
		if len(bytes.TrimSpace(data)) == 0 {
			return io.EOF
		}
		if m, ok := v.(proto.Message); ok {
			return c.UnmarshalOptions.Unmarshal(data, m)
		}
		return c.JSONPb.Unmarshal(data, v)
	})
}
