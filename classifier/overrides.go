package classifier

// TrainOverrides changes some fields of a TrainOptions: a nil field keeps
// the value it is applied to. Adapters build one from what their caller set
// — the flags given on a command line, the fields present in an API request
// — so that "not set" and "set to the zero value" stay apart, and every
// adapter merges options the same way (Apply).
type TrainOverrides struct {
	Algorithm   *string  `json:"algorithm,omitempty"`
	MinDF       *int     `json:"min_df,omitempty"`
	MaxFeatures *int     `json:"max_features,omitempty"`
	Bigrams     *bool    `json:"bigrams,omitempty"`
	L2          *float64 `json:"l2,omitempty"`
	Folds       *int     `json:"folds,omitempty"`
	Seed        *uint64  `json:"seed,omitempty"`
}

// Apply returns o with the fields ov sets replaced, validated.
func (o TrainOptions) Apply(ov TrainOverrides) (TrainOptions, error) {
	set(&o.Algorithm, ov.Algorithm)
	set(&o.MinDF, ov.MinDF)
	set(&o.MaxFeatures, ov.MaxFeatures)
	set(&o.Bigrams, ov.Bigrams)
	set(&o.L2, ov.L2)
	set(&o.Folds, ov.Folds)
	set(&o.Seed, ov.Seed)
	return o, o.Validate()
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
