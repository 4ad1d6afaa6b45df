"""`kiln bench-jobs`' reading of a round, run with the render's interpreter (`python -c`):
of the jobs whose ids follow on the command line, how many finished, how many failed, and the
seconds from the first one's start to the last one's end, printed as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import asyncpg


async def main(ids: list[str]) -> None:
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    row = await connection.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'succeeded') AS succeeded,"
        " count(*) FILTER (WHERE status = 'failed') AS failed,"
        " extract(epoch FROM max(finished_at) - min(started_at)) AS seconds"
        " FROM jobs WHERE id = ANY($1::uuid[])",
        ids,
    )
    await connection.close()
    assert row is not None
    seconds = float(row["seconds"]) if row["seconds"] is not None else None
    print(json.dumps({"succeeded": row["succeeded"], "failed": row["failed"], "seconds": seconds}))


asyncio.run(main(sys.argv[1:]))
