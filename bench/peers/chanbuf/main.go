// Command chanbuf is the Go peer of bench/chanbuf: a producer goroutine
// sends 0..N-1 as int64 on a channel of capacity 1024 and closes it; a
// consumer goroutine ranges over it, checking order and count. It prints the
// same RESULT lines as the C program.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const capacity = 1024

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int64("n", 10000000, "values")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)

	for r := 1; r <= *rounds; r++ {
		ch := make(chan int64, capacity)
		var wg sync.WaitGroup

		t0 := time.Now()
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := int64(0); i < *n; i++ {
				ch <- i
			}
			close(ch)
		}()
		go func() {
			defer wg.Done()
			want := int64(0)
			for v := range ch {
				if v != want {
					fmt.Fprintf(os.Stderr, "chanbuf: received %d, expected %d\n", v, want)
					os.Exit(1)
				}
				want++
			}
			if want != *n {
				fmt.Fprintf(os.Stderr, "chanbuf: received %d values, expected %d\n", want, *n)
				os.Exit(1)
			}
		}()
		wg.Wait()
		el := time.Since(t0)

		ns := float64(el.Nanoseconds()) / float64(*n)
		fmt.Printf("RESULT chanbuf_ns %.3f ns\n", ns)
		fmt.Printf("go chanbuf: round %d/%d, GOMAXPROCS %d, %d values through "+
			"a %d-slot channel: %.1f ms, %.2f ns/value\n",
			r, *rounds, *workers, *n, capacity, float64(el.Nanoseconds())/1e6, ns)
	}
}
