package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
)

func newModelCmd(stdout io.Writer) *cobra.Command {
	var (
		mf     modelFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "model [--addr ADDR | --local | --model MODEL] [-o table|json]",
		Short: "Describe the server's model, or a model file",
		Long: `Model prints the version, creation time, labels, training sample counts,
options and cross-validated metrics of the server's active model (at --addr,
default localhost:50051 or $ARTCLASS_ADDR), of a model file (--model), or of
the model embedded in the binary (--local). The same fields are printed in
every case: those the API carries.`,
		Example: `  artclass model
  artclass model --addr artclass.internal:50051 -o json
  artclass model --model my.model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("model: -o must be table or json, not %q", format)
			}
			be, err := mf.open(cmd.Flags())
			if err != nil {
				return err
			}
			defer be.close()
			md, err := be.metadata(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(modelJSONOf(md))
			}
			return writeModel(stdout, md)
		},
	}
	mf.register(cmd.Flags(), true)
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

// modelJSON is the JSON shape of artclass model: what the API carries of a
// model's metadata, so that a server's model and a file print alike.
type modelJSON struct {
	Version     string                  `json:"version"`
	Created     time.Time               `json:"created"`
	Labels      []string                `json:"labels"`
	Samples     int                     `json:"samples"`
	Negatives   int                     `json:"negatives"`
	LabelCounts map[string]int          `json:"label_counts"`
	Terms       int                     `json:"terms"`
	Algorithm   string                  `json:"algorithm"`
	Options     classifier.TrainOptions `json:"options"`
	CV          classifier.Report       `json:"cross_validation"`
}

func modelJSONOf(md classifier.Metadata) modelJSON {
	// The reliability bins stay out: the server's GetModel does not carry
	// them, and a model's description should not depend on where it runs.
	md.CV.Reliability = nil
	return modelJSON{
		Version: md.Version, Created: md.Created.UTC(), Labels: md.Labels, Samples: md.Samples, Negatives: md.Negatives,
		LabelCounts: md.LabelCounts, Terms: md.Terms, Algorithm: md.Algorithm,
		Options: md.Options,
		CV:      md.CV,
	}
}

func writeModel(w io.Writer, md classifier.Metadata) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	counts := make([]string, 0, len(md.Labels))
	for _, l := range md.Labels {
		counts = append(counts, fmt.Sprintf("%s %d", l, md.LabelCounts[l]))
	}
	fmt.Fprintf(tw, "version\t%s\n", md.Version)
	fmt.Fprintf(tw, "created\t%s\n", md.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "labels\t%s\n", strings.Join(md.Labels, ", "))
	fmt.Fprintf(tw, "samples\t%d (%d without a label; %s)\n", md.Samples, md.Negatives, strings.Join(counts, ", "))
	fmt.Fprintf(tw, "terms\t%d\n", md.Terms)
	fmt.Fprintf(tw, "algorithm\t%s\n", md.Algorithm)
	o := md.Options
	fmt.Fprintf(tw, "options\talgorithm=%s min-df=%d max-features=%d bigrams=%t folds=%d l2=%g seed=%d\n",
		o.Algorithm, o.MinDF, o.MaxFeatures, o.Bigrams, o.Folds, o.L2, o.Seed)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d-fold cross-validation of %s:\n", o.Folds, md.Algorithm)
	return writeReportTable(w, md.CV)
}

func newHealthCmd(stdout io.Writer) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "health [--addr ADDR]",
		Short: "Ask the server whether it is serving",
		Long: `Health asks the server's grpc.health.v1 service about the classifier and
prints SERVING or NOT_SERVING (before a model is loaded, and while the server
shuts down). The exit status is 0 only for SERVING.`,
		Example: `  artclass health
  artclass health --addr artclass.internal:50051 --tls --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.Health(cmd.Context())
			if err != nil {
				return conn.serverError(err)
			}
			fmt.Fprintln(stdout, st)
			if st != client.Serving {
				return fmt.Errorf("%s is %s", conn.addr, st)
			}
			return nil
		},
	}
	conn.register(cmd.Flags(), false)
	return cmd
}
