package s3test

import (
	"context"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// TestServer checks what the store relies on: create-only writes refused
// with a precondition failure once the key exists, and data kept across a
// stop and a start on the same directory and port.
func TestServer(t *testing.T) {
	start := time.Now()
	s := New(t)
	t.Logf("first start took %v", time.Since(start))
	ctx := context.Background()
	open := func() *blob.Bucket {
		t.Helper()
		b, err := blob.OpenBucket(ctx, s.URL("selftest/"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	b := open()
	createOnly := &blob.WriterOptions{IfNotExist: true}
	if err := b.WriteAll(ctx, "k", []byte("first"), createOnly); err != nil {
		t.Fatalf("first create-only write: %v", err)
	}
	err := b.WriteAll(ctx, "k", []byte("second"), createOnly)
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Fatalf("second create-only write: got %v (code %v), want FailedPrecondition", err, gcerrors.Code(err))
	}

	start = time.Now()
	s.Stop()
	t.Logf("stop took %v", time.Since(start))
	if _, err := b.ReadAll(ctx, "k"); err == nil {
		t.Fatal("read from a stopped server succeeded")
	}
	start = time.Now()
	s.Start()
	t.Logf("start took %v", time.Since(start))
	got, err := open().ReadAll(ctx, "k")
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if string(got) != "first" {
		t.Fatalf("after restart k = %q, want %q", got, "first")
	}
}
