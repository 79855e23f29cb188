// Command fib is the Go peer of bench/fib (W5): fork-join fib(n) where
// fib(n) above the cutoff starts a goroutine for fib(n-1), computes fib(n-2)
// itself and receives the goroutine's result on a channel; at n <= 20 it runs
// the plain recursive fib. Each round also times the plain fib(n) alone. It
// prints the same RESULT lines as the C program (fib_serial_ms is Go's own
// serial time; bench/run compares against the C one).
//
// With -o the fork-join fib is fibParOC, which adds the per-task work of the
// C program's fib_task_oc() (-o, bench/bench.h) as a Go programmer writes
// it, so that bench/run can compare ordinary C with Go doing the same work;
// the results are then named *_oc.
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

// fibParOC is fibPar with fib_task_oc()'s work besides: every call that
// forks formats its name, "fib-N", and keeps a 64-byte copy of it until it
// has its result, as the C call keeps its label until it has joined. The
// copy is printed on the error path, as the C label is, so it lives on the
// heap, as the C one does.
func fibParOC(n int) int {
	if n <= cutoff {
		return fibSerial(n)
	}
	name := fmt.Sprintf("fib-%d", n)
	buf := make([]byte, 64)
	if m := copy(buf, name); m != len(name) {
		fmt.Fprintf(os.Stderr, "fib: name %q copied as %q\n", name, buf[:m])
		os.Exit(1)
	}
	ch := make(chan int, 1)
	go func() { ch <- fibParOC(n - 1) }()
	b := fibParOC(n - 2)
	a := <-ch
	runtime.KeepAlive(buf)
	return a + b
}

// sink keeps the compiler from discarding a result.
var sink int

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 32, "fib argument")
	ordinary := flag.Bool("o", false, "ordinary Go: every goroutine also formats "+
		"its name and keeps a 64-byte copy, as the C program's -o tasks do (results named *_oc)")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || *n > 92 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	// With -o the results get the suffix _oc, as the C program's do.
	suffix, variant := "", ""
	if *ordinary {
		suffix, variant = "_oc", " (ordinary Go)"
	}
	want := fibIter(*n)

	for r := 1; r <= *rounds; r++ {
		t0 := time.Now()
		serial := fibSerial(*n)
		t1 := time.Now()
		var par int
		if *ordinary {
			par = fibParOC(*n)
		} else {
			par = fibPar(*n)
		}
		t2 := time.Now()
		sink += serial + par

		if serial != want || par != want {
			fmt.Fprintf(os.Stderr, "fib(%d): serial %d, fork-join %d, expected %d\n",
				*n, serial, par, want)
			os.Exit(1)
		}
		sms := float64(t1.Sub(t0).Nanoseconds()) / 1e6
		pms := float64(t2.Sub(t1).Nanoseconds()) / 1e6
		fmt.Printf("RESULT fib_serial_ms%s %.3f ms\n", suffix, sms)
		fmt.Printf("RESULT fib_ms%s %.3f ms\n", suffix, pms)
		fmt.Printf("go fib%s: round %d/%d, GOMAXPROCS %d, fib(%d) = %d: "+
			"serial %.2f ms, fork-join %.2f ms (%.2fx serial)\n",
			variant, r, *rounds, *workers, *n, par, sms, pms, pms/sms)
	}
}
