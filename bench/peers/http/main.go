// Command http is the Go peer of examples/http_hello (W7): an HTTP/1.1
// keep-alive server written on the net package alone, as http_hello is
// written on green_read and green_write, so that the comparison is between
// the two runtimes and not between HTTP libraries (net/http parses headers,
// allocates a request per call and writes a Date header: far more work).
//
// A goroutine per connection reads into a buffer, answers every complete
// request (ending in "\r\n\r\n") with the same bytes as http_hello, keeps a
// partial request for the next read, and writes the answers to all the
// requests it has, pipelined ones included, in one write once no complete
// request is left in the buffer. A request that does not fit in 8 KiB
// closes the connection, as in http_hello.
//
//	http [-p PORT] [-w GOMAXPROCS]     (default port 8080, 1)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

const requestMax = 8192

var response = []byte("HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Length: 13\r\n" +
	"\r\n" +
	"Hello, world!")

var crlf2 = []byte("\r\n\r\n")

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, requestMax)
	out := make([]byte, 0, 16*len(response))
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		if m <= 0 || err != nil {
			return
		}
		n += m
		// Answer each complete request; keep the partial rest.
		start := 0
		for {
			end := bytes.Index(buf[start:n], crlf2)
			if end < 0 {
				break
			}
			out = append(out, response...)
			start += end + len(crlf2)
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
		n = copy(buf, buf[start:n])
	}
}

func main() {
	port := flag.Int("p", 8080, "port to listen on")
	workers := flag.Int("w", 1, "GOMAXPROCS (the C side's worker count)")
	flag.Parse()
	if *workers < 1 || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*workers)
	// Go sets SO_REUSEADDR on listeners and TCP_NODELAY on connections,
	// as http_hello does by hand.
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "http: listen: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "go http: listening on port %d\n", *port)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "http: accept: %v\n", err)
			// out of fds: let connections end before trying again
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
