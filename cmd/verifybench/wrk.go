package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkLoad runs wrk with one thread and o.conns connections against url
// for o.duration (whole seconds, at least one), sending the given
// Authorization header.
func wrkLoad(ctx context.Context, o options, s stack) (result, error) {
	secs := max(int((o.duration+time.Second-1)/time.Second), 1)
	cmd := o.pin.generator(ctx, "wrk", "-t1", "-c"+strconv.Itoa(o.conns), "-d"+strconv.Itoa(secs)+"s",
		"--latency", "-H", "Authorization: "+s.auth, s.url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	r, err := parseWrk(out, s.want)
	if err != nil {
		return r, fmt.Errorf("wrk: %s: %w", s.url, err)
	}
	return r, nil
}

// parseWrk reads the summary wrk prints with --latency.
// A stack that answers other than 2xx on purpose (404, 401) wants its
// non-2xx responses: they are not counted as errors then.
func parseWrk(out []byte, want int) (result, error) {
	var r result
	var sawRequests, sawRate bool
	var rate float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return r, fmt.Errorf("wrk: request count %q: %w", f[0], err)
			}
			r.requests = n
			sawRequests = true
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: rate %q: %w", f[1], err)
			}
			rate, sawRate = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk: latency %q: %w", f[1], err)
			}
			if f[0] == "50%" {
				r.p50 = d
			} else {
				r.p99 = d
			}
		case len(f) >= 5 && f[0] == "Non-2xx" && want < 300:
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return r, fmt.Errorf("wrk: non-2xx count %q: %w", f[len(f)-1], err)
			}
			r.errors += n
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				if err != nil {
					return r, fmt.Errorf("wrk: socket errors %q: %w", sc.Text(), err)
				}
				if f[i] != "timeout" { // wrk counts requests cut off at its end as timeouts
					r.errors += n
				}
			}
		}
	}
	if !sawRequests || !sawRate || rate <= 0 {
		return r, errors.New("wrk: no request count or rate in its output")
	}
	r.elapsed = time.Duration(float64(r.requests) / rate * float64(time.Second))
	return r, nil
}
