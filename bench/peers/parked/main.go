// Command parked is the Go peer of bench/parked (W6): start N goroutines
// (default 10^6) that each block receiving from one shared unbuffered
// channel on which nothing is sent; closing it wakes them all. Each round
// reports the time from the first "go" until a sync.WaitGroup, which every
// goroutine marks done just before it blocks, reaches zero, divided by N; and
// from /proc/self/status the memory per parked goroutine, ((VmHWM - VmRSS at
// the start) + (VmPTE while all are parked - VmPTE at the start)) / N, page
// tables included as on the C side; the page tables' share alone; and the
// address space per goroutine, (VmSize while all are parked - VmSize at the
// start) / N. It prints the same RESULT lines as the C program; as there,
// VmHWM is a process-wide high-water mark, so bench/run runs one round per
// process.
//
// With -o the goroutines run parkedOC, which adds the per-task work of the C
// program's parked_oc() (-o, bench/bench.h) as a Go programmer writes it, so
// that bench/run can compare ordinary C with Go doing the same work; the
// results are then named *_oc.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "parked: "+format+"\n", a...)
	os.Exit(1)
}

// vmStatus holds the lines of /proc/self/status a round reads, in bytes.
type vmStatus struct {
	rss, hwm, pte, size int64
}

// readVMStatus reads them in one pass, so that they describe one moment; the
// kernel counts them in kB (KiB).
func readVMStatus() vmStatus {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("%v", err)
	}
	v := vmStatus{-1, -1, -1, -1}
	fields := map[string]*int64{
		"VmRSS:": &v.rss, "VmHWM:": &v.hwm, "VmPTE:": &v.pte, "VmSize:": &v.size,
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" || fields[f[0]] == nil {
			continue
		}
		kib, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			fail("/proc/self/status: cannot parse %q", f[0])
		}
		*fields[f[0]] = kib * 1024
	}
	for k, p := range fields {
		if *p < 0 {
			fail("/proc/self/status has no %q line", k)
		}
	}
	return v
}

func parked(ch <-chan struct{}, started, ended *sync.WaitGroup) {
	started.Done()
	// Nothing is ever sent: only close(ch) ends the wait.
	if _, ok := <-ch; ok {
		fail("received a value, expected a closed channel")
	}
	ended.Done()
}

// parkedOC is parked with parked_oc()'s work besides: it formats its name,
// "parked-ID", and keeps a 64-byte copy of it as the label of its error
// message while it waits, as the C task keeps its label while it is parked;
// printed there, the copy lives on the heap, as the C one does. Go has no
// goroutine id to read: ID is the goroutine's number, counted from 1 as
// libgreen counts its task ids.
func parkedOC(ch <-chan struct{}, started, ended *sync.WaitGroup, id int) {
	name := fmt.Sprintf("parked-%d", id)
	buf := make([]byte, 64)
	n := copy(buf, name)
	if n != len(name) {
		fail("name %q copied as %q", name, buf[:n])
	}
	started.Done()
	// Nothing is ever sent: only close(ch) ends the wait.
	if _, ok := <-ch; ok {
		fail("%s: received a value, expected a closed channel", buf[:n])
	}
	ended.Done()
}

func main() {
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	rounds := flag.Int("r", 1, "repeat the measurement, one result per round")
	n := flag.Int("n", 1000000, "goroutines parked at once")
	ordinary := flag.Bool("o", false, "ordinary Go: every goroutine also formats "+
		"its name and keeps a 64-byte copy, as the C program's -o tasks do (results named *_oc)")
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

	for r := 1; r <= *rounds; r++ {
		var started, ended sync.WaitGroup
		ch := make(chan struct{})

		base := readVMStatus()
		t0 := time.Now()
		// Counted before the goroutines start, as the C side does.
		started.Add(*n)
		ended.Add(*n)
		if *ordinary {
			for i := 0; i < *n; i++ {
				go parkedOC(ch, &started, &ended, i+1)
			}
		} else {
			for i := 0; i < *n; i++ {
				go parked(ch, &started, &ended)
			}
		}
		started.Wait()
		el := time.Since(t0)
		// All parked: the page tables and mappings are at their peak.
		peak := readVMStatus()
		close(ch)
		ended.Wait()

		ns := float64(el.Nanoseconds()) / float64(*n)
		pte := float64(peak.pte-base.pte) / float64(*n)
		perTask := float64(peak.hwm-base.rss)/float64(*n) + pte
		vm := float64(peak.size-base.size) / float64(*n)
		fmt.Printf("RESULT parked_spawn_ns%s %.3f ns/task\n", suffix, ns)
		fmt.Printf("RESULT parked_bytes%s %.3f B/task\n", suffix, perTask)
		fmt.Printf("RESULT parked_pte_bytes%s %.3f B/task\n", suffix, pte)
		fmt.Printf("RESULT parked_vm_bytes%s %.3f B/task\n", suffix, vm)
		fmt.Printf("go parked%s: round %d/%d, GOMAXPROCS %d, %d goroutines parked: "+
			"%.1f ms, %.1f ns/task; RSS %.1f -> peak %.1f MiB, "+
			"page tables %.1f -> %.1f MiB: %.0f B/task (%.0f of them page tables); "+
			"VM %.0f B/task\n",
			variant, r, *rounds, *workers, *n, float64(el.Nanoseconds())/1e6, ns,
			float64(base.rss)/1048576, float64(peak.hwm)/1048576,
			float64(base.pte)/1048576, float64(peak.pte)/1048576, perTask, pte, vm)
	}
}
