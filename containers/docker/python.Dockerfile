# Base image for Python model containers: the clipper-container library on a slim Python.
# Build from the repository root: docker build -f containers/docker/python.Dockerfile -t clipper/python-container .
# A model image starts FROM it, copies the model in and sets its own CMD; the default CMD serves the noop
# example. Configure with CLIPPER_MODEL_NAME, CLIPPER_MODEL_VERSION, CLIPPER_INPUT_TYPE, CLIPPER_IP, CLIPPER_PORT.
FROM python:3.11-slim-bookworm
WORKDIR /opt/clipper
COPY containers/python/ containers/python/
RUN pip install --no-cache-dir ./containers/python \
    && useradd --create-home --uid 10001 clipper
USER 10001
ENV CLIPPER_IP=clipper-frontend \
    CLIPPER_PORT=7000 \
    PYTHONUNBUFFERED=1
CMD ["python", "-m", "clipper_container.examples.noop"]
