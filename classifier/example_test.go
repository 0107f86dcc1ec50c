package classifier_test

import (
	"fmt"

	"github.com/artclass/artclass/classifier"
)

func Example() {
	m, err := classifier.Default()
	if err != nil {
		fmt.Println(err)
		return
	}
	r := m.Classify("Air strikes hit rebel-held Idlib",
		"Syrian government warplanes bombed towns in Idlib province on Tuesday, killing fighters and civilians, as troops pushed north towards the Turkish border.")
	fmt.Println("labels:", r.Labels())
	for _, t := range r.Topics {
		fmt.Printf("%-12s %.1f\n", t.Label, t.Confidence)
	}
	// Output:
	// labels: [defence middle-east]
	// defence      1.0
	// middle-east  1.0
	// environment  0.0
	// elections    0.0
}
