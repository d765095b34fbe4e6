# The Clipper frontend: the Deno query and admin APIs over the Rust serving core.
# Build from the repository root: docker build -f containers/docker/frontend.Dockerfile -t clipper/frontend .

# The core is built in its own stage. It speaks ZMTP itself, so the library needs no libzmq (only its tests
# build one, and they do not run here).
FROM rust:1.95-slim-bookworm AS core
WORKDIR /build
COPY native/ native/
RUN cargo build --release --manifest-path native/Cargo.toml

# The image runs as its "deno" user, uid 1993.
FROM denoland/deno:debian-2.9.6
WORKDIR /app
COPY deno.json deno.lock ./
COPY containers/deno/deno.json containers/deno/deno.json
COPY src/ src/
COPY --from=core /build/native/target/release/libclipper_core.so native/target/release/libclipper_core.so
# npm packages are fetched at build time, so the running container needs no registry.
RUN deno cache src/main.ts \
    && mkdir -p /app/state \
    && chown 1993:1993 /app/state
USER 1993
VOLUME ["/app/state"]
EXPOSE 1337 1338 7000
HEALTHCHECK --interval=10s --timeout=3s CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:1337/health'); Deno.exit(r.ok ? 0 : 1)"]
ENTRYPOINT ["deno", "run", "--allow-all", "src/main.ts", "--host", "0.0.0.0", "--state-dir", "/app/state"]
