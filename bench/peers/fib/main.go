// Command fib is the Go peer of bench/fib (W5): fork-join fib(n) where
// fib(n) above the cutoff starts a goroutine for fib(n-1), computes fib(n-2)
// itself and receives the goroutine's result on a channel; at n <= 20 it runs
// the plain recursive fib. Each round also times the plain fib(n) alone. It
// prints the same RESULT lines as the C program (fib_serial_ms is Go's own
// serial time; bench/run compares against the C one).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

const cutoff = 20

func fibIter(n int) int {
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	return a
}

func fibSerial(n int) int {
	if n < 2 {
		return n
	}
	return fibSerial(n-1) + fibSerial(n-2)
}

func fibPar(n int) int {
	if n <= cutoff {
		return fibSerial(n)
	}
	ch := make(chan int, 1)
	go func() { ch <- fibPar(n - 1) }()
	b := fibPar(n - 2)
	return <-ch + b
}

// sink keeps the compiler from discarding a result.
var sink int

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 32, "fib argument")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || *n > 92 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	want := fibIter(*n)

	for r := 1; r <= *rounds; r++ {
		t0 := time.Now()
		serial := fibSerial(*n)
		t1 := time.Now()
		par := fibPar(*n)
		t2 := time.Now()
		sink += serial + par

		if serial != want || par != want {
			fmt.Fprintf(os.Stderr, "fib(%d): serial %d, fork-join %d, expected %d\n",
				*n, serial, par, want)
			os.Exit(1)
		}
		sms := float64(t1.Sub(t0).Nanoseconds()) / 1e6
		pms := float64(t2.Sub(t1).Nanoseconds()) / 1e6
		fmt.Printf("RESULT fib_serial_ms %.3f ms\n", sms)
		fmt.Printf("RESULT fib_ms %.3f ms\n", pms)
		fmt.Printf("go fib: round %d/%d, GOMAXPROCS %d, fib(%d) = %d: "+
			"serial %.2f ms, fork-join %.2f ms (%.2fx serial)\n",
			r, *rounds, *workers, *n, par, sms, pms, pms/sms)
	}
}
