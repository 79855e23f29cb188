#!/bin/bash
# tests/examples.sh - the network examples do what their comments say:
# fanout's clients all succeed, echo sends every byte back, and http_hello
# answers pipelined requests and a request split over two reads.
#
# Run by automake's test harness, which exports top_builddir.  Exit
# status: 0 pass, 1 fail, 99 hard error.

set -u

builddir=${top_builddir:-.}
ex=$builddir/examples
for p in fanout echo http_hello; do
	[ -x "$ex/$p" ] || { echo "examples.sh: build first ($ex/$p)" >&2; exit 99; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/examples.XXXXXX") || exit 99
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# start_server PROG: starts PROG -p PORT on a free port below the ephemeral
# range and waits until it accepts; sets server_pid and port.
start_server() {
	local prog=$1 try i
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
		"$prog" -p "$port" >"$dir/server.log" 2>&1 &
		server_pid=$!
		for i in $(seq 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
			sleep 0.05
		done
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	done
	cat "$dir/server.log"
	fail "$prog did not start"
}

stop_server() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# --- fanout: 300 clients, at most 50 connections at once, 2 workers
timeout 120 "$ex/fanout" -n 300 -c 50 -w 2 >"$dir/fanout.out" 2>&1 ||
	{ cat "$dir/fanout.out"; fail "fanout did not finish every request"; }

# --- echo: two writes come back whole, in order
start_server "$ex/echo"
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "connect to echo"
printf 'hello ' >&3
printf 'green\n' >&3
IFS= read -r -t 10 line <&3 || fail "echo answered nothing"
[ "$line" = "hello green" ] || fail "echo answered '$line'"
exec 3<&-
stop_server

# --- http_hello: two pipelined requests, then one split in two writes
start_server "$ex/http_hello"
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "connect to http_hello"
printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\n' >&3
sleep 0.2
printf 'Host: a\r\n\r\n' >&3
# each answer ends with the body "Hello, world!" and no newline
n=0
while [ "$n" -lt 3 ] && IFS= read -r -d '!' -t 10 line <&3; do
	case $line in
	*'Hello, world') n=$((n + 1)) ;;
	esac
done
exec 3<&-
stop_server
[ "$n" -eq 3 ] || fail "http_hello answered $n of 3 requests"
echo "examples.sh: fanout, echo and http_hello work"
exit 0
