package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/artclass/artclass/client"
)

// connFlags are the flags that say how to reach the server.
type connFlags struct {
	addr       string
	tls        bool
	caFile     string
	certFile   string
	keyFile    string
	serverName string
	timeout    time.Duration
	tokenFile  string
}

// register adds the connection flags to fs; withToken adds --token-file.
func (c *connFlags) register(fs *pflag.FlagSet, withToken bool) {
	addr := os.Getenv("ARTCLASS_ADDR")
	if addr == "" {
		addr = client.DefaultAddr
	}
	fs.StringVar(&c.addr, "addr", addr, "server address: host:port, dns:///host:port, or a comma-separated list (env ARTCLASS_ADDR)")
	fs.BoolVar(&c.tls, "tls", false, "use TLS with the system's root certificates")
	fs.StringVar(&c.caFile, "ca-file", "", "use TLS and trust the server certificates this PEM `FILE` signed")
	fs.StringVar(&c.certFile, "cert", "", "present this PEM client certificate `FILE` (mutual TLS; needs --key)")
	fs.StringVar(&c.keyFile, "key", "", "the PEM private key `FILE` of --cert")
	fs.StringVar(&c.serverName, "server-name", "", "the name the server certificate must carry, if not the host of --addr")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "the longest one call to the server may take, retries included")
	if withToken {
		fs.StringVar(&c.tokenFile, "token-file", os.Getenv("ARTCLASS_TOKEN_FILE"), "`FILE` holding the server's admin token (env ARTCLASS_TOKEN_FILE)")
	}
}

// check reports flags that do not go together.
func (c *connFlags) check() error {
	switch {
	case (c.certFile == "") != (c.keyFile == ""):
		return usagef("--cert and --key go together")
	case strings.TrimSpace(c.addr) == "":
		return usagef("--addr is empty")
	}
	return nil
}

// dial returns a client for the server. It sends the admin token of
// --token-file, a flag only train registers.
func (c *connFlags) dial() (*client.Client, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	opts := []client.Option{client.WithTimeout(c.timeout)}
	secure := c.tls || c.caFile != "" || c.certFile != ""
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
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return nil, fmt.Errorf("token file %s is empty", c.tokenFile)
		}
		opts = append(opts, client.WithToken(string(b)))
		if !secure {
			// client.New still refuses any address that is not loopback.
			opts = append(opts, client.WithInsecureToken())
		}
	}
	return client.New(c.addr, opts...)
}

// serverError adds what the user can do to an error from the server.
func (c *connFlags) serverError(err error) error {
	var e *client.Error
	switch {
	case errors.Is(err, client.ErrUnavailable) && errors.As(err, &e) && strings.Contains(e.Message, "connection"):
		// gRPC nests the dial error in layers of quoting; the dial error
		// alone says what went wrong.
		why := e.Message
		if _, after, ok := strings.Cut(why, "Error while dialing: "); ok {
			why = strings.TrimRight(after, `"`)
		}
		return fmt.Errorf("cannot reach artclassd at %s (start it, or set --addr or ARTCLASS_ADDR): %s", c.addr, why)
	case errors.Is(err, client.ErrUnauthenticated):
		return fmt.Errorf("%w (give the server's admin token with --token-file or ARTCLASS_TOKEN_FILE)", err)
	case errors.Is(err, client.ErrQualityRegression):
		return fmt.Errorf("%w (use --force to make it active anyway)", err)
	}
	return err
}
