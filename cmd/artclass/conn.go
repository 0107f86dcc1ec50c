package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/artclass/artclass/classifier"
	"github.com/artclass/artclass/client"
)

// connFlags are the flags that say how to reach the server.
type connFlags struct {
	addr, caFile, certFile, keyFile, serverName, tokenFile string
	tls                                                    bool
	timeout                                                time.Duration
}

// register adds the connection flags to fs; withToken adds --token-file.
func (c *connFlags) register(fs *pflag.FlagSet, withToken bool) {
	fs.StringVar(&c.addr, "addr", client.DefaultAddr, "server address: host:port, dns:///host:port, or a comma-separated list")
	fs.BoolVar(&c.tls, "tls", false, "use TLS with the system's root certificates")
	fs.StringVar(&c.caFile, "ca-file", "", "use TLS and trust the server certificates this PEM `FILE` signed")
	fs.StringVar(&c.certFile, "cert", "", "present this PEM client certificate `FILE` (mutual TLS; needs --key)")
	fs.StringVar(&c.keyFile, "key", "", "the PEM private key `FILE` of --cert")
	fs.StringVar(&c.serverName, "server-name", "", "the name the server certificate must carry, if not the host of --addr")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "the longest one call to the server may take, retries included")
	if withToken {
		fs.StringVar(&c.tokenFile, "token-file", "", "`FILE` holding the server's admin token")
	}
}

// dial returns a client for the server, sending the admin token of
// --token-file when that flag is registered and set; warnings about the
// token file go to stderr. A malformed --addr is a usage error.
func (c *connFlags) dial(stderr io.Writer) (*client.Client, error) {
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, usagef("--cert and --key go together")
	}
	opts := []client.Option{client.WithTimeout(c.timeout)}
	if c.tls {
		opts = append(opts, client.WithTLS(nil))
	}
	if c.caFile != "" {
		opts = append(opts, client.WithCAFile(c.caFile))
	}
	if c.certFile != "" {
		opts = append(opts, client.WithClientCert(c.certFile, c.keyFile))
	}
	if c.serverName != "" {
		opts = append(opts, client.WithServerName(c.serverName))
	}
	if c.tokenFile != "" {
		token, err := client.ReadTokenFile(c.tokenFile, func(msg string) { fmt.Fprintln(stderr, "artclass: warning:", msg) })
		if err != nil {
			return nil, err
		}
		// Without TLS, client.New still refuses any address that is not
		// loopback; with TLS, WithInsecureToken changes nothing.
		opts = append(opts, client.WithToken(token), client.WithInsecureToken())
	}
	cl, err := client.New(c.addr, opts...)
	if errors.Is(err, client.ErrInvalidTarget) {
		return nil, usagef("--addr: %w", err)
	}
	return cl, err
}

// serverError says what happened, in the user's terms, when a call to the
// server failed, and what to do about it.
func (c *connFlags) serverError(err error) error {
	var e *client.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, client.ErrTLSHandshake):
		return fmt.Errorf("TLS with %s failed (check --ca-file, --server-name and --cert, or whether the server speaks TLS at all): %s", c.addr, e.Cause())
	case errors.Is(err, client.ErrUnresolvable):
		return fmt.Errorf("cannot resolve the host of %s: %s", c.addr, e.Cause())
	case errors.Is(err, client.ErrUnreachable):
		return fmt.Errorf("cannot reach artclassd at %s: nothing answers (start it, or set --addr or ARTCLASS_ADDR): %s", c.addr, e.Cause())
	case errors.Is(err, client.ErrUnavailable):
		return fmt.Errorf("artclassd at %s is unavailable: %s", c.addr, e.Cause())
	case errors.Is(err, client.ErrUnauthenticated):
		return fmt.Errorf("%w (give the server's admin token with --token-file or ARTCLASS_TOKEN_FILE)", err)
	case errors.Is(err, client.ErrQualityRegression) && e.Metadata["new_macro_f1"] != "":
		// The server's own message tells an API caller to set
		// options.force; say it once, in flag terms.
		return fmt.Errorf("model quality regression: the new model's cross-validated macro-F1 %s is more than %.2f below the active model's %s (version %s); --force makes it active anyway",
			e.Metadata["new_macro_f1"], classifier.MaxMacroF1Drop, e.Metadata["active_macro_f1"], e.Metadata["active_version"])
	}
	return err
}
