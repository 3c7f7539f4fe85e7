package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine is what RESULTS.md says about where it ran.
type machine struct {
	Date, GoVersion, OSArch, CPU, Redis string
	NumCPU                              int
	LoadStart, LoadEnd                  string
}

func startMachine() *machine {
	m := &machine{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), OSArch: runtime.GOOS + "/" + runtime.GOARCH,
		NumCPU: runtime.NumCPU(), LoadStart: loadavg()}
	m.GoVersion = command("go", "version")
	m.Redis = command("redis-server", "--version")
	m.CPU = "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func (m *machine) finish() { m.LoadEnd = loadavg() }

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unavailable (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

// loadavg returns the 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
