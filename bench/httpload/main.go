// Httpload is bench/http.sh's HTTP load generator: a fixed number of
// workers, each on its own keep-alive connection, POST the same JSON body
// to one URL for a fixed time, as ghz does for gRPC, and it prints one JSON
// line with the request rate and latency percentiles.
//
// Usage:
//
//	go run ./bench/httpload -url http://127.0.0.1:8080/v1/classify -body payload.json [-c 16] [-d 10s]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// report is the JSON line httpload prints.
type report struct {
	Workers  int     `json:"workers"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "httpload:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("httpload", flag.ContinueOnError)
	url := fs.String("url", "", "the `URL` to POST to")
	bodyFile := fs.String("body", "", "the `FILE` whose content is every request's JSON body")
	workers := fs.Int("c", 16, "concurrent workers, each with its own connection")
	duration := fs.Duration("d", 10*time.Second, "how long to send requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *bodyFile == "" {
		return errors.New("-url and -body are required")
	}
	if *workers < 1 {
		return fmt.Errorf("-c is %d; it must be 1 or more", *workers)
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return fmt.Errorf("read the body: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: *workers,
		MaxConnsPerHost:     *workers,
		DisableCompression:  true,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		errCount  int
		firstErr  error
	)
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var errs int
			var werr error
			for ctx.Err() == nil {
				t0 := time.Now()
				err := post(ctx, client, *url, body)
				if ctx.Err() != nil {
					break // a request cut by the end of the run does not count
				}
				if err != nil {
					errs++
					if werr == nil {
						werr = err
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errCount += errs
			if firstErr == nil {
				firstErr = werr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p * float64(len(latencies)-1))
		return float64(latencies[i].Microseconds()) / 1000
	}
	r := report{
		Workers: *workers, Seconds: elapsed.Seconds(), Requests: len(latencies), Errors: errCount,
		RPS: float64(len(latencies)) / elapsed.Seconds(), P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99),
	}
	if firstErr != nil {
		r.FirstErr = firstErr.Error()
	}
	return json.NewEncoder(stdout).Encode(r)
}

// post sends one request and reads the whole answer, so that the
// connection is reused and the cost of the response is counted.
func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
