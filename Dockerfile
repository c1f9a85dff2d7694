# The yujing worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY detectors ./detectors
COPY alerts ./alerts
COPY dashboards ./dashboards
RUN pip install --no-cache-dir . psycopg2-binary
ENV YUJING_DATA_DIR=/var/lib/yujing/faust
ENTRYPOINT ["yujing"]
CMD ["worker"]
