"""paper vectors: one stored embedding per paper, so web nodes build their ANN index without re-embedding

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import paperboy.store.schema

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "paper_vectors",
        sa.Column("paper_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_hash", sa.String(length=32), nullable=False),
        sa.Column("paper_modified_at", paperboy.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("embedded_at", paperboy.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id"),
    )
    with op.batch_alter_table("paper_vectors", schema=None) as batch_op:
        batch_op.create_index("ix_paper_vectors_embedded_at", ["embedded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("paper_vectors", schema=None) as batch_op:
        batch_op.drop_index("ix_paper_vectors_embedded_at")

    op.drop_table("paper_vectors")
