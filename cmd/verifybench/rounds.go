package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// stack is one row of the table: a server, the URL it is loaded on, the
// Authorization header sent and the status every response must have.
type stack struct {
	name string
	p    *process
	url  string
	auth string
	want int
}

// figures are one stack's results over the rounds of one generator.
type figures struct {
	efficiency, cpu, rps, p50, p99 []float64
}

// interleave runs o.rounds rounds; each round loads every stack in turn
// with run, so that whatever else the machine does falls on all of them.
// It prints each round and then the table of medians [min–max]. count
// sees each result.
func interleave(ctx context.Context, o options, stdout io.Writer, generator string, stacks []stack,
	run func(stack) (result, error), count func(stack, result)) error {
	figs := make([]figures, len(stacks))
	for r := 1; r <= o.rounds; r++ {
		var baseCPU float64
		for i, s := range stacks {
			res, err := measured(s.p, func() (result, error) { return run(s) })
			if err != nil {
				return fmt.Errorf("%s, %s: %w", generator, s.name, err)
			}
			count(s, res)
			fmt.Fprintf(stdout, "round %d  %-12s %-22s %s  load %s\n", r, generator, s.name, res, loadAverage())
			cpu := res.cpuPerRequest()
			if i == 0 {
				baseCPU = cpu
			}
			f := &figs[i]
			if cpu > 0 && baseCPU > 0 {
				f.efficiency = append(f.efficiency, baseCPU/cpu)
				f.cpu = append(f.cpu, cpu)
			}
			f.rps = append(f.rps, res.rps())
			f.p50 = append(f.p50, float64(res.p50.Microseconds()))
			f.p99 = append(f.p99, float64(res.p99.Microseconds()))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	fmt.Fprintf(stdout, "\n%s, %d rounds, median [min–max]; efficiency = baseline CPU/req ÷ the stack's, per round\n", generator, o.rounds)
	fmt.Fprintf(stdout, "%-22s | %-18s | %-20s | %-22s | %-18s | %s\n", "stack", "efficiency", "CPU µs/req", "req/s", "p50 µs", "p99 µs")
	for i, s := range stacks {
		f := figs[i]
		fmt.Fprintf(stdout, "%-22s | %-18s | %-20s | %-22s | %-18s | %s\n", s.name,
			spread(f.efficiency, "%.2f"), spread(f.cpu, "%.1f"), spread(f.rps, "%.0f"), spread(f.p50, "%.0f"), spread(f.p99, "%.0f"))
	}
	fmt.Fprintln(stdout)
	return nil
}

// spread is "median [min–max]" of v in the given format; it sorts v.
func spread(v []float64, format string) string {
	if len(v) == 0 {
		return "n/a"
	}
	slices.Sort(v)
	f := func(x float64) string { return fmt.Sprintf(format, x) }
	if len(v) == 1 {
		return f(v[0])
	}
	return f(median(v)) + " [" + f(v[0]) + "–" + f(v[len(v)-1]) + "]"
}

// median of sorted v; the mean of the middle two when len(v) is even.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// cpuPerRequest is the server's CPU time per completed request in µs, or
// 0 when unknown.
func (r result) cpuPerRequest() float64 {
	if r.cpu <= 0 || r.requests == 0 {
		return 0
	}
	return float64(r.cpu.Nanoseconds()) / 1e3 / float64(r.requests)
}

// measured runs one round against the server p and adds the CPU time
// that p spent on it: throughput alone moves with whatever else shares the
// machine, while CPU per request is the server's own cost.
func measured(p *process, run func() (result, error)) (result, error) {
	before, errBefore := cpuOf(p.cmd.Process.Pid)
	r, err := run()
	if err != nil {
		return r, err
	}
	if after, errAfter := cpuOf(p.cmd.Process.Pid); errBefore == nil && errAfter == nil {
		r.cpu = after - before
	}
	return r, nil
}

// loadAverage is the machine's one-minute load average, printed beside
// each round so that a disturbed round can be seen.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
