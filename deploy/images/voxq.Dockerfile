# VoxQueue's image for the compose test, built here from Debian (no registry can give us
# python:3.11-slim; users build deploy/Dockerfile). Build context: deploy/. Python packages come
# from the wheelhouse deploy/docker-setup.sh builds on the host: pip in a container would not
# trust the host's certificates, and the wheels are exactly the ones the host's tests ran with.
FROM voxq-base:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv espeak-ng sox libsndfile1 curl ffmpeg \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/voxq
ENV PATH=/opt/voxq/bin:$PATH VOXQ_DATA_DIR=/data LANG=C.UTF-8
# Dependencies first, the project's own wheel last: a code change rebuilds only the last layers.
COPY images/wheelhouse/deps /wheels/deps
RUN pip install --no-index --no-cache-dir --disable-pip-version-check /wheels/deps/*.whl
COPY images/wheelhouse/app /wheels/app
RUN pip install --no-index --no-cache-dir --disable-pip-version-check --no-deps /wheels/app/*.whl
# The Fish Speech stand-in (test only): the same image runs it as the fish-speech service.
COPY fish_speech_standin.py /opt/voxq-test/fish_speech_standin.py
# Not root, and the same numeric user as deploy/Dockerfile's (10001:10001, what the Kubernetes
# manifests run as).
RUN groupadd --system --gid 10001 voxq \
 && useradd --system --uid 10001 --gid voxq --home-dir /data --create-home voxq
USER 10001:10001
WORKDIR /data
CMD ["voxq", "api", "--host", "0.0.0.0", "--port", "8000"]
