//go:build linux

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// availableMemory is the memory this process may use: the least of the
// machine's (MemTotal) and its cgroup's limit (v2 memory.max, v1
// memory.limit_in_bytes), in bytes; 0 if unknown.
func availableMemory() int64 { return availableMemoryIn("/") }

// availableMemoryIn reads the files below root (tests give another).
func availableMemoryIn(root string) int64 {
	mem := memTotal(filepath.Join(root, "proc/meminfo"))
	for _, f := range cgroupLimitFiles(root) {
		if n := readLimit(f); n > 0 && (mem == 0 || n < mem) {
			mem = n
		}
	}
	return mem
}

// memTotal reads MemTotal of /proc/meminfo.
func memTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fields := strings.Fields(v)
			if len(fields) == 2 && fields[1] == "kB" {
				n, err := strconv.ParseInt(fields[0], 10, 64)
				if err == nil && n > 0 {
					return n << 10
				}
			}
		}
	}
	return 0
}

// cgroupLimitFiles lists where the process's memory limit may be: its own
// cgroup's files (from /proc/self/cgroup) and the roots of the hierarchies,
// which are its own cgroup's in a container with a cgroup namespace.
func cgroupLimitFiles(root string) []string {
	files := []string{
		filepath.Join(root, "sys/fs/cgroup/memory.max"),
		filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"),
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return files
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // cgroup v2
			files = append(files, filepath.Join(root, "sys/fs/cgroup", parts[2], "memory.max"))
		case strings.Contains(","+parts[1]+",", ",memory,"): // cgroup v1
			files = append(files, filepath.Join(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	return files
}

// readLimit reads a cgroup memory limit: bytes, or "max" (none: 0). v1
// writes "none" as a number near 2^63.
func readLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}
