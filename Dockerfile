# streamrec in a container: Debian bookworm with exactly the packages of
# scripts/bootstrap.sh (it is run here), built with CMake and Ninja. The image
# runs the `streamrec` binary; docker-compose.yml starts `learn` and
# `produce` from it with configs/docker.yaml.
FROM debian:bookworm

ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /app

# Packages first, in their own layer: they change less often than the code.
COPY scripts/bootstrap.sh scripts/bootstrap.sh
RUN scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*

COPY . .
# Portable code (no -march=native: the image may run on another CPU), and the
# binary only -- the tests and benchmarks run on the host.
RUN cmake -S . -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSTREAMREC_NATIVE=OFF -DSTREAMREC_BUILD_TESTS=OFF -DSTREAMREC_BUILD_BENCH=OFF \
    && ninja -C /tmp/build streamrec \
    && install -m 0755 /tmp/build/apps/streamrec /usr/local/bin/streamrec \
    && rm -rf /tmp/build

ENTRYPOINT ["streamrec"]
CMD ["--help"]
