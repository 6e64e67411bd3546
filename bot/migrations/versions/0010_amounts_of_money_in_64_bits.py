"""amounts of money in 64 bits

Bank transfers (and an order's sum of them) can pass INTEGER's 2.1 billion đồng. PostgreSQL's columns become
BIGINT; SQLite's INTEGER holds 64 bits already (orders/models.py BIG_AMOUNT), so it is left as it is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 03:15:57.867903

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = [("bank_transactions", "amount"), ("orders", "paid_amount")]


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        for table, column in COLUMNS:
            op.alter_column(table, column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        for table, column in COLUMNS:
            op.alter_column(table, column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
