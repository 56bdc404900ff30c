"""The ops API (FastAPI): health, readiness and read models, scoped per huvudman and audited."""
