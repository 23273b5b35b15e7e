# syntax=docker/dockerfile:1
# gatehouse container image: a static binary on distroless, running as a
# non-root user. It holds cmd/gatehouse only: the demo and the development
# OpenID provider (cmd/gatehouse-dev) are not in it.
#
# Build:
#   docker build -t gatehouse \
#     --build-arg VERSION=$(git describe --tags --match 'v*' --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cI) .
#
# CI does not build this image: there is no container engine on the CI
# machine. deploy/deploy_test.go checks its shape (multi-stage, static,
# distroless, non-root, a working HEALTHCHECK command); make release runs
# the same build command (static, -trimpath, stamped) outside a container.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context (.dockerignore): stamp the version here.
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/gatehouse ./cmd/gatehouse

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
