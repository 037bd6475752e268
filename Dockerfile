# deploydb's image: the release's static (musl) binary on a small Alpine base, so the image works
# as a GitLab job image (which needs a shell) and as a source for
#   COPY --from=ghcr.io/deploydb/deploydb:0.1.0 /usr/local/bin/deploydb /usr/local/bin/deploydb
# in an app's own image, where the migration command finds the app's toolchain. deploydb reads
# .git/HEAD itself, so no git is needed inside.
#
# The release workflow builds it for linux/amd64 and linux/arm64 from the binaries it has just
# built and checksummed (image/linux/amd64/deploydb, image/linux/arm64/deploydb), so the image
# holds the very binary of the GitHub release. From a checkout:
#   cargo build --release --locked --target x86_64-unknown-linux-musl
#   mkdir -p image/linux/amd64 && cp target/x86_64-unknown-linux-musl/release/deploydb image/linux/amd64/
#   docker build --platform linux/amd64 -t deploydb .

FROM alpine:3.22
ARG TARGETPLATFORM
# CA roots for sslmode=verify-ca/verify-full without an explicit CA; an unprivileged account.
# hadolint ignore=DL3018
RUN apk add --no-cache ca-certificates \
    && adduser -D -H -u 10001 -s /sbin/nologin deploydb
COPY --chmod=0755 image/${TARGETPLATFORM}/deploydb /usr/local/bin/deploydb
USER 10001
# No ENTRYPOINT: GitLab runs job scripts through the image's shell.
CMD ["deploydb", "--help"]
