# One image for every role: `omnirelay gateway`, `omnirelay worker` or `omnirelay run`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY bots ./bots
COPY nlu ./nlu
COPY handoff ./handoff
COPY storage ./storage
RUN pip install .

# Train the bundled NLU model into the image so workers start without training.
RUN omnirelay nlu train --out /app/models/nlu.model

RUN useradd --system --home /app omnirelay && chown -R omnirelay /app
USER omnirelay
ENV OMNIRELAY_NLU_MODEL=/app/models/nlu.model OMNIRELAY_HOST=0.0.0.0 OMNIRELAY_LOG_FORMAT=json
EXPOSE 8080
CMD ["omnirelay", "run"]
