# One image for every Casegold service: `docker run IMAGE casegold_intake` (or casegold_escalation,
# casegold_notifier, casegold_followup, casegold_reporting). docker-compose.yml sets the module.
#
# Stage 1 installs the locked dependency set (uv.lock, no dev group) and the workspace packages,
# non-editable, into /opt/casegold; stage 2 copies only that environment and the shipped policies.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/casegold
# The same uv as the Makefile's, from PyPI.
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable --python /usr/local/bin/python3.11 \
    && /opt/casegold/bin/python -c "import casegold_platform, casegold_sla, casegold_contracts"

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/casegold/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CASEGOLD_POLICY_FILE=/etc/casegold/policy.yaml \
    CASEGOLD_ESCALATION_DATA_DIR=/var/lib/casegold/escalation
RUN groupadd --system --gid 10001 casegold \
    && useradd --system --uid 10001 --gid casegold --home-dir /var/lib/casegold \
       --shell /usr/sbin/nologin casegold \
    && mkdir -p /var/lib/casegold/escalation /etc/casegold \
    && chown -R casegold:casegold /var/lib/casegold
COPY --from=build /opt/casegold /opt/casegold
COPY deploy/policy/ /etc/casegold/policies/
RUN ln -s /etc/casegold/policies/default.yaml /etc/casegold/policy.yaml
WORKDIR /var/lib/casegold
USER 10001:10001
ENTRYPOINT ["python", "-m"]
CMD ["casegold_intake"]
