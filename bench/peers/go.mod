module libgreen/bench/peers

go 1.19
