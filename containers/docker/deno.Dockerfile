# Base image for TypeScript model containers: the containers/deno library on Deno (it speaks ZMTP itself).
# Build from the repository root: docker build -f containers/docker/deno.Dockerfile -t clipper/deno-container .
# A model image starts FROM it, copies its model module in and sets CMD to it; the default serves the noop
# example. Configure with CLIPPER_MODEL_NAME, CLIPPER_MODEL_VERSION, CLIPPER_INPUT_TYPE, CLIPPER_IP, CLIPPER_PORT.
# The image runs as its "deno" user, uid 1993.
FROM denoland/deno:debian-2.9.6
WORKDIR /opt/clipper
COPY containers/deno/ containers/deno/
RUN deno cache containers/deno/mod.ts containers/deno/examples/noop.ts
USER 1993
ENV CLIPPER_IP=clipper-frontend \
    CLIPPER_PORT=7000
ENTRYPOINT ["deno", "run", "--allow-all"]
CMD ["containers/deno/examples/noop.ts"]
