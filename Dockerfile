# Builds the broker as one static binary and ships it in a small image.
#
#   docker build -t kbroker .
#   docker run -p 9092:9092 kbroker --override listeners=PLAINTEXT://0.0.0.0:9092 \
#       --override advertised.listeners=PLAINTEXT://localhost:9092
#
# docker-compose.yml runs ZooKeeper plus three of these as a cluster.

# Build stage: module download is cached apart from the sources.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=auto
COPY go.mod go.sum ./
RUN go mod download
# The sources; .dockerignore keeps tests, caches and data out of the context.
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/broker ./cmd/broker \
 && mkdir -p /out/data

# Runtime stage: the static binary and an empty data directory owned by the
# unprivileged user the image runs as (a new named volume inherits it).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/broker /usr/local/bin/broker
COPY --from=build --chown=65532:65532 /out/data /var/lib/kbroker
VOLUME ["/var/lib/kbroker"]
EXPOSE 9092
ENTRYPOINT ["/usr/local/bin/broker", "--override", "log.dirs=/var/lib/kbroker"]
