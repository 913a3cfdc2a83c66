package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemBytes int64  `json:"mem_bytes"`
	Kernel   string `json:"kernel"`
	Disk     string `json:"disk"`    // device holding the work directory
	FSType   string `json:"fs_type"` // its filesystem
	Go       string `json:"go"`
	Java     string `json:"java"`
}

// describeMachine reads /proc for the figures of the machine holding dir.
func describeMachine(ctx context.Context, dir, java string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemBytes = n << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Disk, m.FSType = mountOf(dir)
	if java != "" {
		if out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput(); err == nil {
			first, _, _ := strings.Cut(string(out), "\n")
			m.Java = strings.TrimSpace(first)
		}
	}
	return m
}

// mountOf finds the device and filesystem type of the longest mount point holding dir.
func mountOf(dir string) (dev, fstype string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	best := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 3 {
			continue
		}
		mp := fl[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, dev, fstype = len(mp), fl[0], fl[2]
		}
	}
	return dev, fstype
}
