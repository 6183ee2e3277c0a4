// loadgen: keep-alive HTTP load against one OPA endpoint, for benchmarks/http_bench.py.
//
// Each of -c clients posts the request bodies of -bodies (a JSON array of OPA
// requests, taken in turn) back to back over its own keep-alive connection for -d, after
// a warm-up of -warmup. It prints one JSON object: requests, throughput, p50 and p99 in
// microseconds. Standard library only; built with `go build` (no module downloads).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "endpoint to POST to")
	bodiesPath := flag.String("bodies", "", "JSON array of request bodies")
	clients := flag.Int("c", 1, "concurrent clients")
	duration := flag.Duration("d", 2*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "warm-up before measuring")
	flag.Parse()

	raw, err := os.ReadFile(*bodiesPath)
	if err != nil {
		fail(err)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(raw, &docs); err != nil || len(docs) == 0 {
		fail(fmt.Errorf("bodies: want a non-empty JSON array: %v", err))
	}

	run := func(d time.Duration, record bool) ([]time.Duration, time.Duration) {
		var mu sync.Mutex
		var all []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for i := 0; i < *clients; i++ {
			wg.Add(1)
			go func(offset int) {
				defer wg.Done()
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
				var mine []time.Duration
				for n := offset; time.Now().Before(deadline); n++ {
					body := docs[n%len(docs)]
					t0 := time.Now()
					resp, err := client.Post(*url, "application/json", bytes.NewReader(body))
					if err != nil {
						fail(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						fail(fmt.Errorf("status %d", resp.StatusCode))
					}
					mine = append(mine, time.Since(t0))
				}
				if record {
					mu.Lock()
					all = append(all, mine...)
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		return all, time.Since(start)
	}

	run(*warmup, false)
	samples, elapsed := run(*duration, true)
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	pick := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Nanoseconds()) / 1000
	}
	out, _ := json.Marshal(map[string]any{
		"requests":   len(samples),
		"throughput": float64(len(samples)) / elapsed.Seconds(),
		"p50_us":     pick(0.50),
		"p99_us":     pick(0.99),
		"clients":    *clients,
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}
