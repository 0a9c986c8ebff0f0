# dashscope-mock in a container, for teams whose SDKs are not Python (compose snippet: README.md).
#   docker build -t dashscope-mock .
#   docker run -p 8580:8580 -e DASHSCOPE_MOCK_ADMIN_TOKEN=<a secret> dashscope-mock
# Clients reach the emulator through the published port, so they are not loopback clients: with
# DASHSCOPE_MOCK_ADMIN_TOKEN set the control plane (and the inspector, /__mock/ui/) answers whoever
# sends it; without it, only the container itself. tests/test_container_recipe.py runs the CMD and the
# HEALTHCHECK below exactly as written.
FROM python:3.12-slim
WORKDIR /opt/dashscope-mock
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY mockserver ./mockserver
RUN pip install --no-cache-dir . && useradd --system --no-create-home mock
USER mock
EXPOSE 8580
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["python", "-m", "mockserver.healthcheck"]
CMD ["dashscope-mock", "serve", "--host", "0.0.0.0"]
