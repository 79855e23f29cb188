// Command spawn is the Go peer of bench/spawn (W2): spawn N trivial
// goroutines, each storing its argument where the C task returns it, and wait
// for all of them with a sync.WaitGroup. It prints the same RESULT lines as
// the C program.
//
// -d changes nothing in what it does: spawning goroutines without a handle
// and waiting for them with a WaitGroup is already the idiom that the C
// program's -d (detached tasks, one green_wg_t) copies. It only names the
// results spawn_wg_ns (spawn_wg_ns_oc with -o) in place of spawn_join_ns, so
// that bench/run files them apart, as its spawnwg workload.
//
// With -o every goroutine first does the per-task work of the C program's
// trivial_oc() (-o, bench/bench.h), as a Go programmer writes it: it formats
// its name, "spawn-I" with its number I, and copies it into a 64-byte buffer
// of its own, checked, so that bench/run can compare ordinary C with Go
// doing the same work; the results are then named *_oc.
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
	ordinary := flag.Bool("o", false, "ordinary Go: every goroutine also formats "+
		"its name and keeps a 64-byte copy, as the C program's -o tasks do (results named *_oc)")
	detached := flag.Bool("d", false, "the C program's detached variant: the same "+
		"goroutines and WaitGroup, results named spawn_wg_ns")
	flag.Parse()
	if *workers < 1 || *rounds < 1 || *n < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	// With -o the results get the suffix _oc, as the C program's do.
	suffix, variant := "", ""
	if *ordinary {
		suffix, variant = "_oc", " (ordinary Go)"
	}
	result := "spawn_join_ns"
	if *detached {
		result, variant = "spawn_wg_ns", " -d"+variant
	}

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
		if *ordinary {
			for i := 0; i < *n; i++ {
				go func(i int) {
					// The copy is printed on the error path, as
					// trivial_oc() prints its label, so it lives
					// on the heap, as the C one does.
					name := fmt.Sprintf("spawn-%d", i)
					buf := make([]byte, 64)
					if m := copy(buf, name); m != len(name) {
						fmt.Fprintf(os.Stderr, "spawn: name %q copied as %q\n", name, buf[:m])
						os.Exit(1)
					}
					results[i] = i
					wg.Done()
				}(i)
			}
		} else {
			for i := 0; i < *n; i++ {
				go func(i int) {
					results[i] = i
					wg.Done()
				}(i)
			}
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
		fmt.Printf("RESULT %s%s %.3f ns/task\n", result, suffix, ns)
		fmt.Printf("go spawn%s: round %d/%d, GOMAXPROCS %d, %d goroutines "+
			"spawned then waited for: %.1f ms, %.1f ns/task\n",
			variant, r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns)
	}
}
