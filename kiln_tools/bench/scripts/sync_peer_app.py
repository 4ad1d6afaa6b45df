"""The sync peer of `kiln bench`: the request pattern of full-stack-fastapi-template's backend,
written here for the generated service's notes tables.

`def` endpoints and a `def` session dependency, which FastAPI runs in its threadpool; a SQLModel
session per request on psycopg, in SQLAlchemy's own connection pool at its default size; the
caller read from an HS256 JWT and loaded by primary key on every request. It serves the tables
of an auth render the generated service migrated and wrote, on the render's interpreter,
FastAPI, uvicorn, SQLAlchemy, Pydantic and PyJWT, with the production server's options:

    python -m uvicorn sync_peer_app:app --app-dir kiln_tools/bench/scripts --loop uvloop \
        --http httptools --no-access-log --no-server-header

`DATABASE_URL` is the render's database; `PEER_SECRET` signs the tokens, which
`python sync_peer_app.py USER_ID` prints.
"""

# No `from __future__ import annotations`: SQLModel reads the relationship's annotation as a
# type, and a string there is refused.
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, HTTPException, Query, Response, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import selectinload
from sqlmodel import Field, Relationship, Session, SQLModel, create_engine, func, select

ALGORITHM = "HS256"


class NoteTag(SQLModel, table=True):
    __tablename__ = "note_tags"

    note_id: uuid.UUID = Field(foreign_key="notes.id", primary_key=True)
    tag_id: int = Field(foreign_key="tags.id", primary_key=True)


class Tag(SQLModel, table=True):
    __tablename__ = "tags"

    id: int = Field(primary_key=True)
    name: str


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(primary_key=True)
    email: str
    is_active: bool


class NoteBase(SQLModel):
    id: uuid.UUID = Field(primary_key=True)
    title: str
    body: str
    archived: bool
    word_count: int | None
    created_at: datetime
    updated_at: datetime


class Note(NoteBase, table=True):
    __tablename__ = "notes"

    owner_id: uuid.UUID | None = Field(foreign_key="users.id")
    tags: list[Tag] = Relationship(link_model=NoteTag)


class NotePublic(NoteBase):
    tags: list[str]


def public(note: Note) -> NotePublic:
    tags = sorted(tag.name for tag in note.tags)
    return NotePublic(**note.model_dump(exclude={"owner_id"}), tags=tags)


def database_url() -> str:
    url = os.environ["DATABASE_URL"]
    return url.replace("postgresql+asyncpg://", "postgresql://").replace(
        "postgresql://", "postgresql+psycopg://", 1
    )


engine = create_engine(database_url())
reusable_oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token")


def get_db() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
TokenDep = Annotated[str, Depends(reusable_oauth2)]


def get_current_user(session: SessionDep, token: TokenDep) -> User:
    try:
        payload = jwt.decode(token, os.environ["PEER_SECRET"], algorithms=[ALGORITHM])
    except jwt.InvalidTokenError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Could not validate credentials") from None
    user = session.get(User, uuid.UUID(payload["sub"]))
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "User not found")
    if not user.is_active:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Inactive user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/api/v1/bench/ping")
def ping() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/notes", response_model=list[NotePublic])
def read_notes(
    session: SessionDep,
    current_user: CurrentUser,
    response: Response,
    offset: int = 0,
    limit: Annotated[int, Query(le=100)] = 20,
) -> list[NotePublic]:
    mine = (Note.owner_id == current_user.id, Note.archived.is_(False))
    count = session.exec(select(func.count()).select_from(Note).where(*mine)).one()
    statement = (
        select(Note)
        .where(*mine)
        .options(selectinload(Note.tags))
        .order_by(Note.created_at.desc(), Note.id)
        .offset(offset)
        .limit(limit)
    )
    response.headers["X-Total-Count"] = str(count)
    return [public(note) for note in session.exec(statement).all()]


@app.get("/api/v1/notes/{note_id}", response_model=NotePublic)
def read_note(session: SessionDep, current_user: CurrentUser, note_id: uuid.UUID) -> NotePublic:
    note = session.get(Note, note_id, options=[selectinload(Note.tags)])
    if note is None or note.owner_id != current_user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Note not found")
    return public(note)


def issue_token(user_id: str) -> str:
    expires = datetime.now(UTC) + timedelta(hours=1)
    return jwt.encode({"sub": user_id, "exp": expires}, os.environ["PEER_SECRET"], ALGORITHM)


if __name__ == "__main__":
    print(issue_token(sys.argv[1]))
