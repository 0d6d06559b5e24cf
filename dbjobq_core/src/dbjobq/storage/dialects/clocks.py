"""The server's clock as SQL, per database, without importing any driver (the Django adapter stamps the
rows its ORM writes with the same clock, whichever driver Django uses)."""

from __future__ import annotations

# PostgreSQL: the clock at the start of the statement. statement_timestamp(), not now() (the start of the
# transaction: a caller's long transaction would stamp its jobs early) nor clock_timestamp() (it moves
# while one statement runs, so a claim's due check and its stamps, or created_at and updated_at, would
# disagree by microseconds). Double precision, as the columns are: the claim index compares as is.
POSTGRESQL_NOW_SQL = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) AS DOUBLE PRECISION)"
