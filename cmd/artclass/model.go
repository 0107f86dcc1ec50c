package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/artclass/artclass/client"
	"github.com/artclass/artclass/evalreport"
	"github.com/artclass/artclass/internal/envflag"
)

func newModelCmd(stdout io.Writer) *cobra.Command {
	var mf modelFlags
	var format string
	cmd := &cobra.Command{
		Use:   "model [--addr ADDR | --local | --model MODEL] [-o table|json]",
		Short: "Describe the server's model, or a model file",
		Example: `  artclass model --addr artclass.internal:50051 -o json
  artclass model --model my.model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat("model", format, "table", "json"); err != nil {
				return err
			}
			be, err := mf.open(cmd.Flags(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer be.close()
			md, err := be.model(cmd.Context())
			if err != nil {
				return err
			}
			return printAs(stdout, format, md, writeModel)
		},
	}
	mf.register(cmd.Flags(), true)
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

func writeModel(w io.Writer, md client.Model) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var counts, thresholds []string
	for _, l := range md.Labels {
		counts = append(counts, fmt.Sprintf("%s %d", l, md.LabelCounts[l]))
		thresholds = append(thresholds, fmt.Sprintf("%s %.3f", l, md.Thresholds[l]))
	}
	fmt.Fprintf(tw, "version\t%s\n", md.Version)
	fmt.Fprintf(tw, "created\t%s\n", md.Created.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "labels\t%s\n", strings.Join(md.Labels, ", "))
	fmt.Fprintf(tw, "thresholds\t%s (a label is assigned from its threshold up, which can be below 0.5)\n", strings.Join(thresholds, ", "))
	fmt.Fprintf(tw, "samples\t%d (%d without a label; %s)\n", md.Samples, md.Negatives, strings.Join(counts, ", "))
	fmt.Fprintf(tw, "terms\t%d\n", md.Terms)
	fmt.Fprintf(tw, "algorithm\t%s\n", md.Algorithm)
	o := md.Options
	fmt.Fprintf(tw, "options\talgorithm=%s min-df=%d max-features=%d bigrams=%t folds=%d l2=%g seed=%d\n",
		o.Algorithm, o.MinDF, o.MaxFeatures, o.Bigrams, o.Folds, o.L2, o.Seed)
	if err := tw.Flush(); err != nil {
		return err
	}
	return evalreport.WriteCV(w, md.Metadata)
}

func newHealthCmd(stdout io.Writer) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "health [--addr ADDR]",
		Short: "Ask the server whether it is serving",
		Long:  "Health prints SERVING or NOT_SERVING; the exit status is 0 only for SERVING.",
		Example: `  artclass health
  artclass health --addr artclass.internal:50051 --tls --timeout 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.dial(cmd.ErrOrStderr())
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

func newModelsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		conn          connFlags
		store, format string
	)
	cmd := &cobra.Command{
		Use:   "models list|activate VERSION",
		Short: "List the server's stored model versions, or make one active",
		Example: `  artclass models list --store file:///var/lib/artclass/models
  artclass models activate 53ebad015b4bec54 --addr artclass.internal:50051 --ca-file ca.pem --token-file token`,
	}
	// onStore calls fn with --store, or with the server's store at --addr.
	onStore := func(cmd *cobra.Command, fn func(context.Context, modelAdmin) error) error {
		var admin modelAdmin
		var err error
		switch {
		case store != "" && envflag.FromCommandLine(cmd.Flags(), "addr"):
			return usagef("models: --store works on the store directly; --addr asks a server: give one")
		case store != "":
			admin, err = openStore(cmd.Context(), store)
		case conn.tokenFile == "":
			return usagef("models: the model store needs the server's admin token: --token-file FILE (or ARTCLASS_TOKEN_FILE)")
		default:
			admin, err = conn.dial(stderr)
		}
		if err != nil {
			return err
		}
		defer admin.Close()
		return conn.serverError(fn(cmd.Context(), admin))
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the stored model versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat("models list", format, "table", "json"); err != nil {
				return err
			}
			return onStore(cmd, func(ctx context.Context, admin modelAdmin) error {
				l, err := admin.ListModels(ctx)
				if err != nil {
					return err
				}
				return printAs(stdout, format, l, writeModelList)
			})
		},
	}
	list.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json")
	activate := &cobra.Command{
		Use:   "activate VERSION",
		Short: "Make a stored model version the active one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onStore(cmd, func(ctx context.Context, admin modelAdmin) error {
				a, err := admin.ActivateModel(ctx, args[0])
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdout, "model %s is active (it replaced %s)\n", a.Model.Version, a.PreviousVersion)
				return err
			})
		},
	}
	conn.register(cmd.PersistentFlags(), true)
	cmd.PersistentFlags().StringVar(&store, "store", "", "work on the model store at `URL` (file:///dir, s3://bucket?…) instead of a server's")
	cmd.AddCommand(list, activate)
	return cmd
}

// writeModelList prints one stored version a line, the active one marked.
func writeModelList(w io.Writer, l client.ModelList) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tversion\tcreated\tmacro-F1\tsamples\tparent")
	for _, m := range l.Models {
		mark := ""
		if m.Active {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%d\t%s\n", mark, m.Version, m.Created.UTC().Format(time.RFC3339), m.CV.MacroF1, m.Samples, m.ParentVersion)
	}
	return tw.Flush()
}
