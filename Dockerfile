# hubgate as a container: a static binary alone in a distroless image, as non-root.
# Build: docker build -t hubgate .   Run: docker run -e HUBGATE_UPSTREAM=... hubgate
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/hubgate .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hubgate /hubgate
USER 65532:65532
# Inside a container hubgate must listen beyond loopback to be reachable at all.
ENV HUBGATE_LISTEN=0.0.0.0:4180
EXPOSE 4180
# The image has no shell or curl: hubgate probes its own /ping.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["/hubgate", "healthcheck"]
ENTRYPOINT ["/hubgate"]
