// Command parked is the Go peer of bench/parked (W6): start N goroutines
// (default 10^6) that each block receiving from one shared unbuffered
// channel on which nothing is sent; closing it wakes them all. Each round
// reports the time from the first "go" until a sync.WaitGroup, which every
// goroutine marks done just before it blocks, reaches zero, divided by N; and
// the resident memory per parked goroutine, (VmHWM - VmRSS at the start) / N
// from /proc/self/status. It prints the same RESULT lines as the C program;
// as there, VmHWM is a process-wide high-water mark, so bench/run runs one
// round per process.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "parked: "+format+"\n", a...)
	os.Exit(1)
}

// procStatusBytes is the value of the "Vm...:" line key (with its colon) of
// /proc/self/status, in bytes; the kernel counts it in kB (KiB).
func procStatusBytes(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("%v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == key && f[2] == "kB" {
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				fail("/proc/self/status: cannot parse %q", key)
			}
			return kib * 1024
		}
	}
	fail("/proc/self/status has no %q line", key)
	return 0
}

func parked(ch <-chan struct{}, started, ended *sync.WaitGroup) {
	started.Done()
	// Nothing is ever sent: only close(ch) ends the wait.
	if _, ok := <-ch; ok {
		fail("received a value, expected a closed channel")
	}
	ended.Done()
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 1000000, "goroutines parked at once")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)

	for r := 1; r <= *rounds; r++ {
		var started, ended sync.WaitGroup
		ch := make(chan struct{})

		base := procStatusBytes("VmRSS:")
		t0 := time.Now()
		// Counted before the goroutines start, as the C side does.
		started.Add(*n)
		ended.Add(*n)
		for i := 0; i < *n; i++ {
			go parked(ch, &started, &ended)
		}
		started.Wait()
		el := time.Since(t0)
		peak := procStatusBytes("VmHWM:")
		close(ch)
		ended.Wait()

		ns := float64(el.Nanoseconds()) / float64(*n)
		perTask := float64(peak-base) / float64(*n)
		fmt.Printf("RESULT parked_spawn_ns %.3f ns/task\n", ns)
		fmt.Printf("RESULT parked_bytes %.3f B/task\n", perTask)
		fmt.Printf("go parked: round %d/%d, GOMAXPROCS %d, %d goroutines parked: "+
			"%.1f ms, %.1f ns/task; RSS %.1f -> peak %.1f MiB, %.0f B/task\n",
			r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns,
			float64(base)/1048576, float64(peak)/1048576, perTask)
	}
}
