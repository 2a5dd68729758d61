"""print tasks follow their inputs: ownership fingerprint, check bookkeeping, retries, history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:00:00

* print_tasks: checked_input_hash, checked_at, written_fingerprint, rules_hash, retry_at, attempts;
  order_item_id becomes nullable with ON DELETE SET NULL (a removed item's tasks are cancelled or flagged by
  the next run instead of vanishing).
* print_task_history: every change to a task.
* Existing pending tasks the pipeline wrote (input_hash set) are marked as the pipeline's own, with the
  same fingerprint expression as y3d_pipeline.print_queue.repository.fingerprint_sql.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGES = ("created", "updated", "removed", "flagged", "cancelled", "completed", "reopened", "edited_outside")
FINGERPRINT = ("md5(CAST(jsonb_build_array(custom_text, color_1, color_2, quantity, status, needs_review, "
               "review_reason, annotation) AS TEXT))")


def upgrade() -> None:
    op.add_column("print_tasks", sa.Column("checked_input_hash", sa.String(length=64), nullable=True))
    op.add_column("print_tasks", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("print_tasks", sa.Column("written_fingerprint", sa.String(length=32), nullable=True))
    op.add_column("print_tasks", sa.Column("rules_hash", sa.String(length=16), nullable=True))
    op.add_column("print_tasks", sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("print_tasks", sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.alter_column("print_tasks", "order_item_id", existing_type=sa.BigInteger(), nullable=True)
    op.drop_constraint(op.f("fk_print_tasks_order_item_id_order_items"), "print_tasks", type_="foreignkey")
    op.create_foreign_key(op.f("fk_print_tasks_order_item_id_order_items"), "print_tasks", "order_items",
                          ["order_item_id"], ["id"], ondelete="SET NULL")
    op.execute(f"UPDATE print_tasks SET written_fingerprint = {FINGERPRINT} "  # noqa: S608 - constant SQL
               "WHERE status = 'pending' AND input_hash IS NOT NULL")

    op.create_table(
        "print_task_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("order_item_id", sa.BigInteger(), nullable=True),
        sa.Column("order_number", sa.Text(), nullable=True),
        sa.Column("task_index", sa.Integer(), nullable=True),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("old_status", sa.Text(), nullable=True),
        sa.Column("new_status", sa.Text(), nullable=True),
        sa.Column("old_custom_text", sa.Text(), nullable=True),
        sa.Column("new_custom_text", sa.Text(), nullable=True),
        sa.Column("old_color_1", sa.Text(), nullable=True),
        sa.Column("new_color_1", sa.Text(), nullable=True),
        sa.Column("old_color_2", sa.Text(), nullable=True),
        sa.Column("new_color_2", sa.Text(), nullable=True),
        sa.Column("old_quantity", sa.Integer(), nullable=True),
        sa.Column("new_quantity", sa.Integer(), nullable=True),
        sa.Column("old_needs_review", sa.Boolean(), nullable=True),
        sa.Column("new_needs_review", sa.Boolean(), nullable=True),
        sa.Column("old_review_reason", sa.Text(), nullable=True),
        sa.Column("new_review_reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("change IN (" + ", ".join(f"'{c}'" for c in CHANGES) + ")",
                           name=op.f("ck_print_task_history_change_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_task_history")),
    )
    op.create_index(op.f("ix_print_task_history_task_id"), "print_task_history", ["task_id"])
    op.create_index(op.f("ix_print_task_history_order_id"), "print_task_history", ["order_id"])
    op.create_index(op.f("ix_print_task_history_order_number"), "print_task_history", ["order_number"])
    op.create_index(op.f("ix_print_task_history_created_at"), "print_task_history", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_print_task_history_created_at"), table_name="print_task_history")
    op.drop_index(op.f("ix_print_task_history_order_number"), table_name="print_task_history")
    op.drop_index(op.f("ix_print_task_history_order_id"), table_name="print_task_history")
    op.drop_index(op.f("ix_print_task_history_task_id"), table_name="print_task_history")
    op.drop_table("print_task_history")
    op.execute("DELETE FROM print_tasks WHERE order_item_id IS NULL")
    op.drop_constraint(op.f("fk_print_tasks_order_item_id_order_items"), "print_tasks", type_="foreignkey")
    op.create_foreign_key(op.f("fk_print_tasks_order_item_id_order_items"), "print_tasks", "order_items",
                          ["order_item_id"], ["id"], ondelete="CASCADE")
    op.alter_column("print_tasks", "order_item_id", existing_type=sa.BigInteger(), nullable=False)
    for column in ("attempts", "retry_at", "rules_hash", "written_fingerprint", "checked_at", "checked_input_hash"):
        op.drop_column("print_tasks", column)
