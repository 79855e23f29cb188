// Command skynet is the Go peer of bench/skynet (W3), Go's canonical skynet
// (github.com/atemerev/skynet): a 10-ary tree of goroutines over 10^6
// leaves; each inner goroutine makes an unbuffered channel, starts its ten
// children, receives their sums and sends its own up; a leaf sends its
// number. Each round reports the time from starting the root to receiving
// its sum, and the process's peak resident set so far (getrusage Maxrss).
// It prints the same RESULT lines as the C program; as there, the peak is a
// process-wide high-water mark, so bench/run runs one round per process.
//
// With -o the tree is skynetOC, which adds the per-task work of the C
// program's skynet_oc() (-o, bench/bench.h) as a Go programmer writes it, so
// that bench/run can compare ordinary C with Go doing the same work; the
// results are then named *_oc.
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

// skynetOC is skynet with skynet_oc()'s work besides: every goroutine, leaf
// or not, formats its name, "skynet-FIRST:LEAVES", and keeps a 64-byte copy
// of it until it has sent its sum, as the C task keeps its label until it
// frees it at its end. The copy is printed on the error path, as the C
// label is, so it lives on the heap, as the C one does.
func skynetOC(up chan<- int, first, leaves int) {
	name := fmt.Sprintf("skynet-%d:%d", first, leaves)
	buf := make([]byte, 64)
	if n := copy(buf, name); n != len(name) {
		fmt.Fprintf(os.Stderr, "skynet: name %q copied as %q\n", name, buf[:n])
		os.Exit(1)
	}
	sum := first
	if leaves > 1 {
		sum = 0
		ch := make(chan int)
		for i := 0; i < fanout; i++ {
			go skynetOC(ch, first+i*(leaves/fanout), leaves/fanout)
		}
		for i := 0; i < fanout; i++ {
			sum += <-ch
		}
	}
	up <- sum
	runtime.KeepAlive(buf)
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
	ordinary := flag.Bool("o", false, "ordinary Go: every goroutine also formats "+
		"its name and keeps a 64-byte copy, as the C program's -o tasks do (results named *_oc)")
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
	// With -o the results get the suffix _oc, as the C program's do.
	suffix, variant := "", ""
	if *ordinary {
		suffix, variant = "_oc", " (ordinary Go)"
	}
	defer tracing.Start()()
	want := *n * (*n - 1) / 2

	for r := 1; r <= *rounds; r++ {
		ch := make(chan int)
		t0 := time.Now()
		if *ordinary {
			go skynetOC(ch, 0, *n)
		} else {
			go skynet(ch, 0, *n)
		}
		sum := <-ch
		el := time.Since(t0)
		rss := peakRSSMiB()

		if sum != want {
			fmt.Fprintf(os.Stderr, "skynet(%d): sum %d, expected %d\n", *n, sum, want)
			os.Exit(1)
		}
		ms := float64(el.Nanoseconds()) / 1e6
		fmt.Printf("RESULT skynet_ms%s %.3f ms\n", suffix, ms)
		fmt.Printf("RESULT skynet_rss_mib%s %.3f MiB\n", suffix, rss)
		fmt.Printf("go skynet%s: round %d/%d, GOMAXPROCS %d, %d leaves, sum %d: "+
			"%.1f ms, peak RSS %.1f MiB\n",
			variant, r, *rounds, *workers, *n, sum, ms, rss)
	}
}
