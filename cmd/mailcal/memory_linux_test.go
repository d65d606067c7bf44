//go:build linux

package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAvailableMemory(t *testing.T) {
	const gib = 1 << 30
	write := func(root, name, content string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	machine := func() string {
		root := t.TempDir()
		write(root, "proc/meminfo", "MemTotal:        8388608 kB\nMemFree:         1024 kB\n")
		return root
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"no cgroup", nil, 8 * gib},
		{"cgroup v2 without a limit", map[string]string{"sys/fs/cgroup/memory.max": "max\n", "proc/self/cgroup": "0::/\n"}, 8 * gib},
		{"cgroup v2 namespace", map[string]string{"sys/fs/cgroup/memory.max": "2147483648\n", "proc/self/cgroup": "0::/\n"}, 2 * gib},
		{"cgroup v2 service", map[string]string{"proc/self/cgroup": "0::/system.slice/mailcal.service\n",
			"sys/fs/cgroup/system.slice/mailcal.service/memory.max": "1073741824\n"}, gib},
		{"cgroup v1 without a limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 8 * gib},
		{"cgroup v1", map[string]string{"proc/self/cgroup": "4:memory:/docker/abc\n3:cpuset:/\n",
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912\n"}, gib / 2},
		{"a limit above the machine's", map[string]string{"sys/fs/cgroup/memory.max": "17179869184\n"}, 8 * gib},
		{"a path leaving the hierarchy", map[string]string{"proc/self/cgroup": "0::/../../etc\n", "etc/memory.max": "1024\n"}, 8 * gib},
		{"garbage", map[string]string{"sys/fs/cgroup/memory.max": "lots\n"}, 8 * gib},
	} {
		root := machine()
		for name, content := range tc.files {
			write(root, name, content)
		}
		if got := availableMemoryIn(root); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := availableMemoryIn(t.TempDir()); got != 0 {
		t.Errorf("nothing readable: %d, want 0", got)
	}
	if got := availableMemory(); got <= 0 {
		t.Errorf("this machine: %d", got)
	}
}
