# The bakeoff step image: what `bakeoff step prepare|train|compare` needs at run time, nothing more.
# The same image serves `docker run`, kfp.local's DockerRunner and Kubeflow pods.
#
#   docker build -t bakeoff:0.1.0 .
#   docker run --rm -e AWS_ENDPOINT_URL -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     bakeoff:0.1.0 step train --run-uri s3://bucket/prefix/runs/RUN_ID --model NAME
#
# Build arguments: PYTHON_IMAGE (Python 3.11 or newer: the build reads pyproject.toml with
# tomllib); PIP_INDEX_URL and PIP_EXTRA_INDEX_URL for a package mirror; EXTRAS and PINS (below);
# BAKEOFF_VERSION and VCS_REF for the labels. Secrets are never baked in: S3 credentials come
# from the environment of each `docker run` or pod.
ARG PYTHON_IMAGE=python:3.11-slim

# -- build: the project as a wheel, installed with its run-time dependencies into /opt/venv ------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120
# A venv, not the system site-packages: the same paths work on python:3.11-slim
# (/usr/local/bin/python3) and on a Debian python3 (/usr/bin/python3).
RUN python3 -m venv /opt/venv
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so this slow layer is rebuilt only when they change.
# [project.dependencies] and the kubernetes client (the k8s extra: `bakeoff step drive` runs the
# Kubernetes runner in a pod); no kfp SDK, no Streamlit, no MLflow, no test tools. EXTRAS names
# extras of pyproject.toml, comma-separated: EXTRAS=k8s,mlflow for steps that log to MLflow.
# PINS (optional) holds name==version pins, space-separated, applied as pip constraints: CI passes
# those of its own venv, so a process and a container run the very same libraries.
ARG EXTRAS="k8s"
ARG PINS=""
COPY pyproject.toml ./
RUN python3 -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + [d for e in os.environ.get('EXTRAS', '').split(',') if e for d in p['optional-dependencies'][e]]))" \
      > /tmp/requirements.txt \
 && printf '%s\n' ${PINS} > /tmp/constraints.txt \
 && /opt/venv/bin/pip install -r /tmp/requirements.txt -c /tmp/constraints.txt
COPY README.md ./
COPY src ./src
# The wheel, installed without touching the dependencies; `pip check` proves they fit. pip and
# setuptools then leave the venv (a step never installs anything), and so do the libraries' own
# test suites (about 120 MB that no step imports).
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install --no-deps /dist/bakeoff-*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools \
 && find /opt/venv/lib -type d -name tests -prune -exec rm -rf {} +

# -- runtime: the base image plus /opt/venv, run by a non-root user -------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --user-group --no-log-init --create-home --home-dir /home/bakeoff bakeoff
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/bakeoff
ENTRYPOINT ["bakeoff"]
CMD ["--help"]
# Labels last: a new commit (VCS_REF) then rebuilds no layer above.
ARG PYTHON_IMAGE
ARG BAKEOFF_VERSION=0.1.0
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="bakeoff" \
      org.opencontainers.image.description="bakeoff steps (prepare, train, compare) for docker run, kfp.local and Kubeflow pods" \
      org.opencontainers.image.version="${BAKEOFF_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
