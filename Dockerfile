# deploydb as a container image: a static (musl, rustls) binary on a small Alpine base, so the
# image works as a GitLab job image (which needs a shell) and as a source for
#   COPY --from=<this image> /usr/local/bin/deploydb /usr/local/bin/deploydb
# in an app's own image, where the migration command finds the app's toolchain. deploydb reads
# .git/HEAD itself, so no git is needed inside.

FROM rust:1.88-alpine3.21 AS build
# Build tooling only; versions follow the pinned base image.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin deploydb

FROM alpine:3.21
# CA roots for sslmode=verify-ca/verify-full without an explicit CA.
# hadolint ignore=DL3018
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 -s /sbin/nologin deploydb
COPY --from=build /src/target/release/deploydb /usr/local/bin/deploydb
USER 10001
# No ENTRYPOINT: GitLab runs job scripts through the image's shell.
CMD ["deploydb", "--help"]
