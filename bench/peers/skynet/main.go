// Command skynet is the Go peer of bench/skynet (W3), Go's canonical skynet
// (github.com/atemerev/skynet): a 10-ary tree of goroutines over 10^6
// leaves; each inner goroutine makes an unbuffered channel, starts its ten
// children, receives their sums and sends its own up; a leaf sends its
// number. Each round reports the time from starting the root to receiving
// its sum, and the process's peak resident set so far (getrusage Maxrss).
// It prints the same RESULT lines as the C program; as there, the peak is a
// process-wide high-water mark, so bench/run runs one round per process.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"libgreen/bench/peers/tracing"
	"syscall"
	"time"
)

const fanout = 10

func skynet(up chan<- int, first, leaves int) {
	if leaves == 1 {
		up <- first
		return
	}
	ch := make(chan int)
	for i := 0; i < fanout; i++ {
		go skynet(ch, first+i*(leaves/fanout), leaves/fanout)
	}
	sum := 0
	for i := 0; i < fanout; i++ {
		sum += <-ch
	}
	up <- sum
}

// peakRSSMiB is the process's peak resident set so far; Linux counts
// Maxrss in KiB.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintf(os.Stderr, "skynet: getrusage: %v\n", err)
		os.Exit(1)
	}
	return float64(ru.Maxrss) / 1024
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 1000000, "leaves, a power of 10 up to 10^9")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || *n > 1000000000 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	m := *n
	for m%fanout == 0 {
		m /= fanout
	}
	if m != 1 {
		fmt.Fprintf(os.Stderr, "skynet: -n %d: expected a power of 10\n", *n)
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	defer tracing.Start()()
	want := *n * (*n - 1) / 2

	for r := 1; r <= *rounds; r++ {
		ch := make(chan int)
		t0 := time.Now()
		go skynet(ch, 0, *n)
		sum := <-ch
		el := time.Since(t0)
		rss := peakRSSMiB()

		if sum != want {
			fmt.Fprintf(os.Stderr, "skynet(%d): sum %d, expected %d\n", *n, sum, want)
			os.Exit(1)
		}
		ms := float64(el.Nanoseconds()) / 1e6
		fmt.Printf("RESULT skynet_ms %.3f ms\n", ms)
		fmt.Printf("RESULT skynet_rss_mib %.3f MiB\n", rss)
		fmt.Printf("go skynet: round %d/%d, GOMAXPROCS %d, %d leaves, sum %d: "+
			"%.1f ms, peak RSS %.1f MiB\n",
			r, *rounds, *workers, *n, sum, ms, rss)
	}
}
