"""`kiln bench vector-search`'s corpus, run with the render's interpreter (`python -c`, with the
render's package in place of `kiln_demo`): 10 000 random documents, the index built over them,
and the query text's vector from the project's own embedder, printed as JSON with the
`ef_search` the service uses (the baseline searches with both).
"""

from __future__ import annotations

import asyncio
import json
import os

import asyncpg
from kiln_demo.documents.embeddings import LocalEmbedder
from kiln_demo.documents.index import INDEX_NAME, create_index_sql
from kiln_demo.features import Settings

QUERY = "a red fox"


async def main() -> None:
    settings = Settings()
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    await connection.execute("TRUNCATE documents CASCADE")
    await connection.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
    await connection.execute(
        "INSERT INTO documents (id, title, body, embedding, embedded_at) "
        "SELECT gen_random_uuid(), 'doc ' || n, '', vector, now() "
        "FROM generate_series(1, 10000) AS n, LATERAL ("
        "  SELECT array_agg(random() - 0.5)::vector AS vector"
        "  FROM generate_series(1, $1) WHERE n > 0) AS random_vector",
        settings.embedding_dimensions,
    )
    await connection.execute(create_index_sql(settings.embedding_metric))
    await connection.execute("ANALYZE documents")
    await connection.close()
    [vector] = LocalEmbedder(settings.embedding_dimensions).embed_sync([QUERY])
    print(json.dumps([vector, settings.vector_ef_search]))


asyncio.run(main())
