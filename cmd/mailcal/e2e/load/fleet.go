//go:build linux

package main

import (
	"fmt"
	"sort"
	"strings"
)

// fleet is the replicas of a run, measured together: counters and memory
// summed over them.
type fleet []*server

// storeReads sums the replicas' counters; nil when one does not count.
func (f fleet) storeReads() readCounts {
	out := readCounts{}
	for _, s := range f {
		rc := s.storeReads()
		if rc == nil {
			return nil
		}
		for op, v := range rc {
			o := out[op]
			out[op] = [2]int64{o[0] + v[0], o[1] + v[1]}
		}
	}
	return out
}

func (f fleet) cpu() (sum int64) {
	for _, s := range f {
		sum += int64(s.cpu())
	}
	return sum
}

// memory sums the replicas' resident memory and peaks, and returns each
// one's resident memory.
func (f fleet) memory() (rss, peak int64, each []int64) {
	for _, s := range f {
		r, p := s.memory()
		rss, peak, each = rss+r, peak+p, append(each, r)
	}
	return rss, peak, each
}

func (f fleet) fds() (n int) {
	for _, s := range f {
		n += s.fds()
	}
	return n
}

// exited names the first replica that exited, with its last lines.
func (f fleet) exited() (string, bool) {
	for i, s := range f {
		select {
		case <-s.exited:
			return fmt.Sprintf("replica %d: %s", i+1, strings.Join(s.lastLines(), " | ")), true
		default:
		}
	}
	return "", false
}

// logged merges the replicas' warnings and errors, most frequent first.
func (f fleet) logged() []string {
	var out []string
	for i, s := range f {
		for _, l := range s.logged() {
			if len(f) > 1 {
				l = fmt.Sprintf("%s [replica %d]", l, i+1)
			}
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

func (f fleet) stop() {
	for _, s := range f {
		s.stop()
	}
}

func (f fleet) pids() []int {
	var out []int
	for _, s := range f {
		out = append(out, s.cmd.Process.Pid)
	}
	return out
}
