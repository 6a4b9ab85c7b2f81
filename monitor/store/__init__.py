"""Storage: SQLAlchemy models, Alembic migrations and repository functions."""
