# syntax=docker/dockerfile:1
# gatehouse container image: a static binary on distroless, running as a
# non-root user. Build: docker build -t gatehouse .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
# Listen on every interface inside the container; publish only what you need.
ENV GATEHOUSE_HTTP_ADDR=0.0.0.0:4180
EXPOSE 4180 9191 4181
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/gatehouse", "healthcheck"]
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
