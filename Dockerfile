# Coffre's container image: one static binary on a distroless base, run as
# a non-root user, with no shell and nothing to install at run time.
#
#   docker build -t coffre .
#   docker run --read-only --cap-drop=ALL --security-opt=no-new-privileges \
#     -v coffre-data:/var/lib/coffre -v "$PWD/coffre.yaml:/etc/coffre/coffre.yaml:ro" \
#     -p 8080:8080 coffre
#
# The root file system can be read-only: Coffre writes only under its data
# directory (/var/lib/coffre, a volume). It starts sealed; unseal with
# `coffre unseal` from a holder's machine. `coffre version` names the
# commit the image was built from (the build reads .git: keep it in the
# context). Checked by deploy/deploy_test.go.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Reproducible: no cgo, no paths of the build machine, the commit stamped
# from .git; the same source and Go version give the same binary.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=true -ldflags="-s -w -buildid=" -o /out/coffre ./cmd/coffre \
 && mkdir -p /out/data && /out/coffre version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/coffre /usr/local/bin/coffre
# The data directory, owned by the image's non-root user (65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/coffre
USER 65532:65532
ENV COFFRE_DATA_DIR=/var/lib/coffre COFFRE_LISTEN=:8080
VOLUME ["/var/lib/coffre"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/coffre"]
CMD ["serve", "--config", "/etc/coffre/coffre.yaml"]
