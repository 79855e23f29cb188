// Command yield is the Go peer of bench/yield (W1): two goroutines each call
// runtime.Gosched() N times; with GOMAXPROCS=1 every call switches to the
// other, so a round makes 2N switches. It prints the same RESULT lines as
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
	n := flag.Int("n", 5000000, "yields per goroutine")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)

	for r := 1; r <= *rounds; r++ {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(2)
		for g := 0; g < 2; g++ {
			go func() {
				for i := 0; i < *n; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		el := time.Since(t0)

		ns := float64(el.Nanoseconds()) / (2 * float64(*n))
		fmt.Printf("RESULT switch_ns %.3f ns\n", ns)
		fmt.Printf("go yield: round %d/%d, GOMAXPROCS %d, 2 goroutines x %d "+
			"Gosched: %.1f ms, %.2f ns/switch\n",
			r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns)
	}
}
