package modelstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/modelstore"
)

// A trainer reads the active pointer before training, publishes against
// it, and a rival that read the same pointer loses.
func Example() {
	ctx := context.Background()
	store, err := modelstore.Open(ctx, "mem://")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	before, err := store.Active(ctx)
	if err != nil && !errors.Is(err, modelstore.ErrNoActive) {
		log.Fatal(err)
	}
	m, err := classifier.Default() // in a trainer: classifier.Train(...)
	if err != nil {
		log.Fatal(err)
	}
	mf, p, err := store.Publish(ctx, m, before)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("generation", p.Generation, "active", p.Version == mf.Version)

	// A second promotion from the same stale pointer is refused.
	_, err = store.Promote(ctx, mf.Version, before)
	var conflict *modelstore.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict; generation", conflict.Active.Generation, "is active")
	}
	// Output:
	// generation 1 active true
	// conflict; generation 1 is active
}
