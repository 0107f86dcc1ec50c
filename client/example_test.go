package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/server"
)

func Example() {
	// An artclass server on a loopback port, serving the embedded model.
	addr, stop := startServer()
	defer stop()

	c, err := client.New(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ctx := context.Background()

	r, err := c.Classify(ctx, classifier.Article{
		Title: "Air strikes hit rebel-held Idlib",
		Text:  "Syrian government warplanes bombed towns in Idlib province on Tuesday, killing fighters and civilians, as troops pushed north towards the Turkish border.",
	}, classifier.Filter{TopK: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("labels:", r.Labels())
	for _, t := range r.Topics {
		fmt.Printf("%-12s %.1f\n", t.Label, t.Confidence)
	}

	// Bad input comes back as an *InvalidInputError naming the field.
	_, err = c.Classify(ctx, classifier.Article{Text: "   "}, classifier.Filter{})
	var invalid *client.InvalidInputError
	if errors.As(err, &invalid) {
		fmt.Println(errors.Is(err, client.ErrInvalidArgument), invalid.Invalid.Violations[0].Field)
	}
	// Output:
	// labels: [defence middle-east]
	// defence      1.0
	// middle-east  1.0
	// true text
}

// startServer serves the embedded model on 127.0.0.1 and returns its
// address and a function that stops it.
func startServer() (string, func()) {
	m, err := classifier.Default()
	if err != nil {
		panic(err)
	}
	srv, err := server.New(server.Config{Model: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(lis)
	return lis.Addr().String(), func() { srv.Shutdown(context.Background()) }
}
