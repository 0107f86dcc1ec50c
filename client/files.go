package client

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// LoadCertPool reads the PEM certificates in path into a pool, for a
// client's RootCAs or a server's ClientCAs (artclassd's --client-ca).
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// MinTokenBytes is the shortest admin token ReadTokenFile accepts: anything
// shorter can be guessed. `openssl rand -hex 32` gives 64.
const MinTokenBytes = 16

// ReadTokenFile reads the admin bearer token in path, white space around it
// trimmed: the one reader of token files for the server (its
// --admin-token-file) and the CLI (--token-file). It refuses a token
// shorter than MinTokenBytes. A file that its group or others can read
// still gives its token, but warn, when not nil, is told so: the token
// grants retraining.
func ReadTokenFile(path string, warn func(msg string)) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < MinTokenBytes {
		return "", fmt.Errorf("token file %s holds %d bytes; a token needs at least %d (make one with: openssl rand -hex 32)", path, len(token), MinTokenBytes)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 && warn != nil {
		warn(fmt.Sprintf("token file %s can be read by others (mode %04o); chmod 600 it", path, info.Mode().Perm()))
	}
	return token, nil
}
