# Sourced by the bench scripts: loopback ports, waiting for a listener, and the 1 KiB file
# every server is measured on. Bash only (no python3, no curl), so that bench/scaling also
# runs from a scalekit on a machine that has neither.

_bench_next_port=$((20000 + RANDOM % 10000))
# free_port VAR: set VAR to a loopback port nothing listens on and no earlier call here gave
# (counting up from a random base below Linux's ephemeral range, 32768-60999).
free_port() {
    while (exec 3<>"/dev/tcp/127.0.0.1/$_bench_next_port") 2>/dev/null; do
        _bench_next_port=$((_bench_next_port + 1))
    done
    printf -v "$1" '%s' "$_bench_next_port"
    _bench_next_port=$((_bench_next_port + 1))
}

# wait_port PORT: until something listens on it (10 s at most, then the script ends).
wait_port() {
    for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "port $1 never opened" >&2
    exit 1
}

# write_1k FILE: the 1 KiB file, byte i being i * 7 + 3 modulo 256 (bench/hello-wasi-http
# answers with the same bytes).
write_1k() {
    local i
    for i in $(seq 0 1023); do printf "\\x$(printf %02x $(((i * 7 + 3) % 256)))"; done > "$1"
}
