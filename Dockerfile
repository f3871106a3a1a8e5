# streamrec in a container, in two stages:
#   build:   Debian bookworm with exactly the packages of scripts/bootstrap.sh,
#            CMake and Ninja; compiles the `streamrec` binary only.
#   runtime: bookworm-slim with the binary and the shared libraries it loads
#            (scripts/runtime-libs.sh), CA certificates for Kafka over TLS, and
#            nothing else: no compiler, no headers, no sources. It runs as the
#            unprivileged user `streamrec`, whose state (checkpoints) lives in
#            /var/lib/streamrec -- mount a volume there.
# docker-compose.yml starts `learn` and `produce` from it with configs/docker.yaml.
FROM debian:bookworm AS build

ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src

# Packages first, in their own layer: they change less often than the code.
COPY scripts/bootstrap.sh scripts/bootstrap.sh
RUN scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*

COPY . .
# Portable code (no -march=native: the image may run on another CPU).
RUN cmake -S . -B /tmp/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSTREAMREC_NATIVE=OFF -DSTREAMREC_BUILD_TESTS=OFF -DSTREAMREC_BUILD_BENCH=OFF \
    && ninja -C /tmp/build streamrec \
    && scripts/runtime-libs.sh /tmp/build/apps/streamrec /usr/local/bin/streamrec /out \
    && mkdir -p /out/app/configs && cp configs/*.yaml /out/app/configs/

FROM debian:bookworm-slim AS runtime

RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/streamrec --create-home --shell /usr/sbin/nologin streamrec
COPY --from=build /out/ /
USER streamrec
WORKDIR /var/lib/streamrec
VOLUME ["/var/lib/streamrec"]

ENTRYPOINT ["streamrec"]
CMD ["--help"]
