// Command spawn is the Go peer of bench/spawn (W2): spawn N trivial
// goroutines, each storing its argument where the C task returns it, and wait
// for all of them with a sync.WaitGroup. It prints the same RESULT lines as
// the C program.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 1000000, "goroutines")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)

	// Allocated and touched outside the timed region, as the C side does
	// with its array of handles.
	results := make([]int, *n)
	for i := range results {
		results[i] = -1
	}

	for r := 1; r <= *rounds; r++ {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(*n)
		for i := 0; i < *n; i++ {
			go func(i int) {
				results[i] = i
				wg.Done()
			}(i)
		}
		wg.Wait()
		el := time.Since(t0)

		for i, v := range results {
			if v != i {
				fmt.Fprintf(os.Stderr, "spawn: goroutine %d stored %d\n", i, v)
				os.Exit(1)
			}
			results[i] = -1
		}
		ns := float64(el.Nanoseconds()) / float64(*n)
		fmt.Printf("RESULT spawn_join_ns %.3f ns/task\n", ns)
		fmt.Printf("go spawn: round %d/%d, GOMAXPROCS %d, %d goroutines "+
			"spawned then waited for: %.1f ms, %.1f ns/task\n",
			r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns)
	}
}
