// Package tracing gives a Go peer the -trace flag: record Go's own
// execution trace (runtime/trace) while the benchmark runs, so that
// bench/trace-overhead can set the cost of Go's tracer beside libgreen's.
package tracing

import (
	"flag"
	"fmt"
	"os"
	"runtime/trace"
)

var path = flag.String("trace", "", "record a Go execution trace to this file")

// Start begins the trace asked for by -trace (if any); the returned
// function ends it and must run before the program exits.
func Start() func() {
	if *path == "" {
		return func() {}
	}
	f, err := os.Create(*path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: -trace %s: %v\n", os.Args[0], *path, err)
		os.Exit(1)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: -trace %s: %v\n", os.Args[0], *path, err)
			os.Exit(1)
		}
	}
}
