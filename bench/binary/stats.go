package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// spread is the median and range of a ratio over the rounds.
type spread struct{ median, lo, hi float64 }

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{median: med, lo: s[0], hi: s[n-1]}
}

func (s spread) String() string { return fmt.Sprintf("%.2f× (%.2f–%.2f)", s.median, s.lo, s.hi) }

// comparison is a ratio reported over the rounds: target against base.
type comparison struct {
	title        string
	target, base string // target names
	// Targets of issue 11, shown beside the result; zero means none.
	minRPS, maxP99 float64
	// lowerP99 asks for the target's p99 to be below the base's.
	lowerP99 bool
}

// results holds every round's measurement per concurrency and target.
type results map[int]map[string][]measurement

func (r results) add(c int, name string, m measurement) {
	if r[c] == nil {
		r[c] = map[string][]measurement{}
	}
	r[c][name] = append(r[c][name], m)
}

// ratios returns per-round rps and p99 ratios of target over base.
func (r results) ratios(c int, target, base string) (rps, p99 []float64) {
	t, b := r[c][target], r[c][base]
	for i := range min(len(t), len(b)) {
		rps = append(rps, t[i].rps/b[i].rps)
		p99 = append(p99, float64(t[i].p99)/float64(b[i].p99))
	}
	return rps, p99
}

// report prints each target's medians and the comparisons.
func report(w io.Writer, r results, conns []int, names []string, cmps []comparison) {
	for _, c := range conns {
		fmt.Fprintf(w, "\nc%d: medians over %d rounds\n", c, len(r[c][names[0]]))
		fmt.Fprintf(w, "  %-44s %10s %10s %10s\n", "target", "req/s", "p50", "p99")
		for _, n := range names {
			ms := r[c][n]
			if len(ms) == 0 {
				continue
			}
			var rps, p50, p99 []float64
			for _, m := range ms {
				rps, p50, p99 = append(rps, m.rps), append(p50, float64(m.p50)), append(p99, float64(m.p99))
			}
			fmt.Fprintf(w, "  %-44s %10.0f %10v %10v\n", n, spreadOf(rps).median,
				time.Duration(spreadOf(p50).median).Round(time.Microsecond), time.Duration(spreadOf(p99).median).Round(time.Microsecond))
		}
		fmt.Fprintf(w, "  ratios, median (min–max) of the per-round ratios:\n")
		for _, cm := range cmps {
			rps, p99 := r.ratios(c, cm.target, cm.base)
			if len(rps) == 0 {
				continue
			}
			sr, sp := spreadOf(rps), spreadOf(p99)
			fmt.Fprintf(w, "  %-44s rps %-20s p99 %-20s %s\n", cm.title, sr, sp, verdict(cm, sr, sp))
		}
	}
}

// verdict says whether the medians meet the comparison's targets.
func verdict(cm comparison, rps, p99 spread) string {
	var parts []string
	if cm.minRPS > 0 {
		parts = append(parts, fmt.Sprintf("rps ≥%.2f: %s", cm.minRPS, yesNo(rps.median >= cm.minRPS)))
	}
	if cm.maxP99 > 0 {
		parts = append(parts, fmt.Sprintf("p99 ≤%.2f: %s", cm.maxP99, yesNo(p99.median <= cm.maxP99)))
	}
	if cm.lowerP99 {
		parts = append(parts, fmt.Sprintf("lower p99: %s", yesNo(p99.median < 1)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func yesNo(b bool) string {
	if b {
		return "met"
	}
	return "NOT met"
}
