package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// percentile returns the q-quantile (0 < q <= 1) of sorted samples, by
// the nearest-rank method; 0 without samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// sorted returns a sorted copy of samples.
func sorted(samples []time.Duration) []time.Duration {
	out := slices.Clone(samples)
	slices.Sort(out)
	return out
}

// ms formats d in milliseconds, the unit of every table.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// histogram is a Prometheus histogram: cumulative counts by upper bound.
type histogram struct {
	count      uint64
	sum        float64
	bounds     []float64
	cumulative []uint64
}

// gatherHistogram reads the histogram called name from g, adding up its
// series (every label value). A histogram not observed yet is empty.
func gatherHistogram(g prometheus.Gatherer, name string) (histogram, error) {
	families, err := g.Gather()
	if err != nil {
		return histogram{}, fmt.Errorf("gather metrics: %w", err)
	}
	var h histogram
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			mh := m.GetHistogram()
			if mh == nil {
				return histogram{}, fmt.Errorf("metric %s is not a histogram", name)
			}
			h.count += mh.GetSampleCount()
			h.sum += mh.GetSampleSum()
			for i, b := range mh.GetBucket() {
				if i == len(h.bounds) {
					h.bounds = append(h.bounds, b.GetUpperBound())
					h.cumulative = append(h.cumulative, 0)
				}
				if h.bounds[i] != b.GetUpperBound() {
					return histogram{}, fmt.Errorf("metric %s: series have different buckets", name)
				}
				h.cumulative[i] += b.GetCumulativeCount()
			}
		}
	}
	return h, nil
}

// since returns what was observed after before.
func (h histogram) since(before histogram) histogram {
	out := histogram{count: h.count - before.count, sum: h.sum - before.sum, bounds: h.bounds, cumulative: slices.Clone(h.cumulative)}
	for i := range out.cumulative {
		if i < len(before.cumulative) {
			out.cumulative[i] -= before.cumulative[i]
		}
	}
	return out
}

// mean is the average observation, the sum and count being exact.
func (h histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return seconds(h.sum / float64(h.count))
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile
// does: linearly within the bucket that holds it. Beyond the last finite
// bound it returns that bound.
func (h histogram) quantile(q float64) time.Duration {
	if h.count == 0 || len(h.bounds) == 0 {
		return 0
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, upper := range h.bounds {
		if float64(h.cumulative[i]) >= rank {
			in := h.cumulative[i] - below
			if in == 0 {
				return seconds(upper)
			}
			return seconds(lower + (upper-lower)*(rank-float64(below))/float64(in))
		}
		lower, below = upper, h.cumulative[i]
	}
	return seconds(h.bounds[len(h.bounds)-1])
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// machine describes this machine, its load and the toolchain in one line.
func machine() string {
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = " (" + strings.TrimSpace(strings.TrimLeft(name, " \t:")) + ")"
				break
			}
		}
	}
	load := ""
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fields := strings.Fields(string(data)); len(fields) >= 3 {
			load = fmt.Sprintf(", load average %s %s %s at start", fields[0], fields[1], fields[2])
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s/%s, %s%s", runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}
