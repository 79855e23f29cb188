// Command pingpong is the Go peer of bench/pingpong (W4): two goroutines
// pass an int back and forth over two unbuffered channels N times; the
// pinger checks that i comes back as i+1. It prints the same RESULT lines as
// the C program.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"libgreen/bench/peers/tracing"
	"sync"
	"time"
)

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 1000000, "round trips")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	defer tracing.Start()()

	for r := 1; r <= *rounds; r++ {
		ping := make(chan int)
		pong := make(chan int)
		var wg sync.WaitGroup

		// As on the C side, starting and waiting for the two goroutines
		// is inside the timed region.
		t0 := time.Now()
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < *n; i++ {
				ping <- i
				if v := <-pong; v != i+1 {
					fmt.Fprintf(os.Stderr, "pingpong: round trip %d came back as %d\n", i, v)
					os.Exit(1)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < *n; i++ {
				pong <- <-ping + 1
			}
		}()
		wg.Wait()
		el := time.Since(t0)

		ns := float64(el.Nanoseconds()) / float64(*n)
		fmt.Printf("RESULT pingpong_ns %.3f ns\n", ns)
		fmt.Printf("go pingpong: round %d/%d, GOMAXPROCS %d, %d round trips: "+
			"%.1f ms, %.1f ns/round trip\n",
			r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns)
	}
}
